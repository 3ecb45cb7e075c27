import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TMessage } from '@/db/schema';

/** A prompt an import left out as a near duplicate, with the kept prompt it is closest to. */
export interface TImportDedupDrop {
  promptId: number;
  prompt: string;
  nearestPromptId: number;
  nearestPrompt: string;
  similarity: number;
  /** Comparisons of the dropped prompt that the import had written (now removed). */
  comparisons: number;
}

const EXCERPT_CHARS = 300;

/**
 * Semantic dedup at import, inside the import's transaction: the prompts the import added (ids
 * above `firstNewPromptId - 1`) are embedded after the project's existing prompts and go through
 * Llama 3's greedy rule; a new prompt whose cosine similarity to a kept one reaches the
 * threshold is removed with its comparisons, responses and imported labels before the commit.
 * Existing prompts are never removed: they were accepted before and may carry judgments.
 */
export async function dedupImportedPrompts(
  tx: TDb,
  input: { projectId: number; firstNewPromptId: number; threshold: number; onProgress?: (done: number, total: number) => void },
): Promise<TImportDedupDrop[]> {
  // Loaded on demand: transformers.js and onnxruntime take seconds to load.
  const { buildPromptDedupText, semanticDedup } = await import('../ml/semantic-dedup');
  const rows = await tx.execute<{ id: string; messages: TMessage[] }>(sql`
    select id, messages from prompts where project_id = ${input.projectId} order by id`);
  const texts = new Map(rows.map((r) => [Number(r.id), buildPromptDedupText(r.messages)]));
  const result = await semanticDedup(
    [...texts].map(([id, text]) => ({ id, text })),
    { threshold: input.threshold, onProgress: input.onProgress && ((p) => input.onProgress!(p.phase === 'embed' ? p.done : p.total, p.total)) },
  );
  const dropped = result.dropped.filter((d) => d.id >= input.firstNewPromptId);
  if (dropped.length === 0) return [];
  const ids = dropped.map((d) => d.id);
  const counts = await tx.execute<{ prompt_id: string; n: number }>(sql`
    select prompt_id, count(*)::int as n from comparisons where prompt_id = any(${`{${ids.join(',')}}`}::bigint[]) group by prompt_id`);
  const comparisonsOf = new Map(counts.map((c) => [Number(c.prompt_id), c.n]));
  // Cascades to the prompt's responses and comparisons, and from those to assignments, judgments and ranks.
  await tx.execute(sql`delete from prompts where id = any(${`{${ids.join(',')}}`}::bigint[])`);
  const excerpt = (id: number) => (texts.get(id) ?? '').slice(0, EXCERPT_CHARS);
  return dropped.map((d) => ({
    promptId: d.id,
    prompt: excerpt(d.id),
    nearestPromptId: d.nearestId,
    nearestPrompt: excerpt(d.nearestId),
    similarity: Math.round(d.similarity * 1e6) / 1e6,
    comparisons: comparisonsOf.get(d.id) ?? 0,
  }));
}
