import type postgres from 'postgres';
import type { TMessage } from '@/db/schema';
import { judgmentConditions } from './select';
import type { TDatasetSpec } from './spec';

export interface TPromptDedup {
  /** Content hashes of the prompts whose pairs are left out. */
  droppedHashes: Set<string>;
  /** The report file: each dropped prompt with its nearest kept prompt and the similarity. */
  reportLines(): AsyncGenerator<string>;
}

const EXCERPT_CHARS = 300;

/**
 * Semantic prompt dedup of a version (Llama 3): the distinct prompts of the selection (by
 * content, across projects, in project then prompt order) are embedded and greedily kept
 * while their cosine similarity to every kept prompt stays under the spec's threshold.
 * Texts are held in memory for the embedding pass; vectors only for kept prompts.
 */
export async function dedupVersionPrompts(
  sql: postgres.Sql,
  sources: { id: number }[],
  spec: TDatasetSpec,
  excluded: Map<number, number[]>,
  options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<TPromptDedup> {
  if (spec.dedupThreshold === null) return { droppedHashes: new Set(), reportLines: async function* () {} };
  // Loaded on demand: transformers.js and onnxruntime take seconds to load, and most builds need neither.
  const { buildPromptDedupText, semanticDedup } = await import('../ml/semantic-dedup');
  const texts = new Map<string, string>();
  for (const project of sources) {
    const cursor = sql<{ content_hash: string; messages: TMessage[] }[]>`
      select p.content_hash, p.messages from prompts p
      where p.id in (
        select c.prompt_id from judgments j join comparisons c on c.id = j.comparison_id
        left join reviews rv on rv.judgment_id = j.id
        where j.project_id = ${project.id} and rv.decision is distinct from 'reject'
          and not (j.annotator_id = any(${excluded.get(project.id) ?? []}::bigint[])) and ${judgmentConditions(sql, spec)})
      order by p.id`.cursor(1000);
    for await (const rows of cursor) {
      for (const row of rows) if (!texts.has(row.content_hash)) texts.set(row.content_hash, buildPromptDedupText(row.messages));
    }
  }
  const items = [...texts].map(([id, text]) => ({ id, text }));
  const result = await semanticDedup(items, {
    threshold: spec.dedupThreshold,
    signal: options.signal,
    onProgress: options.onProgress && ((p) => options.onProgress!(p.phase === 'embed' ? p.done : items.length, items.length)),
  });
  const excerpt = (hash: string) => (texts.get(hash) ?? '').slice(0, EXCERPT_CHARS);
  return {
    droppedHashes: new Set(result.dropped.map((d) => d.id)),
    async *reportLines() {
      for (const d of result.dropped) {
        yield JSON.stringify({ prompt_hash: d.id, nearest_prompt_hash: d.nearestId, similarity: Math.round(d.similarity * 1e6) / 1e6, prompt: excerpt(d.id), nearest_prompt: excerpt(d.nearestId) }) + '\n';
      }
    },
  };
}
