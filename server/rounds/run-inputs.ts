import type { TDbHandle } from '@/db/client';
import type { TMessage } from '@/db/schema';
import type { TArtifactStore } from '../artifacts/store';
import { readCanonicalLines, streamVersionExport } from '../datasets/version-files';
import type { TInputWriters } from './specs';

const idBatch = 500;

/**
 * The distinct prompts of a preference version's split, in file order, with their prompt ids:
 * `{"id": prompt id, "messages": [...]}` a line. The split is the version's own (by prompt), so
 * a rejection-sampling job given the train split never sees a prompt that evaluation holds out.
 */
export async function* versionPromptLines(handle: TDbHandle, store: TArtifactStore, versionId: number, split: 'train' | 'test', limit = Infinity): AsyncGenerator<string> {
  const seen = new Set<string>();
  let batch: { project: string; hash: string; messages: TMessage[] }[] = [];
  let written = 0;
  const flush = async function* () {
    const rows = await handle.sql<{ id: string; slug: string; content_hash: string }[]>`
      select p.id, pr.slug, p.content_hash from prompts p join projects pr on pr.id = p.project_id
      where (pr.slug, p.content_hash) in (select * from unnest(${batch.map((b) => b.project)}::text[], ${batch.map((b) => b.hash)}::text[]))`;
    const ids = new Map(rows.map((r) => [`${r.slug}\u0000${r.content_hash}`, Number(r.id)]));
    let chunk = '';
    for (const item of batch) {
      const id = ids.get(`${item.project}\u0000${item.hash}`);
      // A prompt deleted since the version was built has no id to report results against.
      if (id === undefined || written >= limit) continue;
      chunk += JSON.stringify({ id, messages: item.messages }) + '\n';
      written += 1;
    }
    batch = [];
    if (chunk) yield chunk;
  };
  for await (const line of readCanonicalLines(store, versionId, split)) {
    const key = `${line.metadata.project}\u0000${line.metadata.prompt_hash}`;
    if (seen.has(key)) continue;
    seen.add(key);
    batch.push({ project: line.metadata.project, hash: line.metadata.prompt_hash, messages: line.prompt });
    if (batch.length >= idBatch) yield* flush();
    if (written >= limit) return;
  }
  if (batch.length) yield* flush();
}

/** A preference version's pairs of one split with their strength: `{"id", "strength", "prompt", "chosen", "rejected"}` a line. */
export async function* versionPairLines(store: TArtifactStore, versionId: number, split: 'test'): AsyncGenerator<string> {
  let id = 0;
  let chunk = '';
  for await (const line of readCanonicalLines(store, versionId, split)) {
    chunk += JSON.stringify({ id: id++, strength: line.metadata.strength ?? null, prompt: line.prompt, chosen: line.chosen, rejected: line.rejected }) + '\n';
    if (chunk.length > 1 << 16) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** A project's prompts in id order, `{"id", "messages"}` a line, read through a cursor. */
export async function* projectPromptLines(handle: TDbHandle, projectSlug: string, limit: number): AsyncGenerator<string> {
  const [project] = await handle.sql<{ id: string }[]>`select id from projects where slug = ${projectSlug}`;
  if (!project) throw new Error(`no project ${projectSlug} for the next round's prompts`);
  const cursor = handle.sql<{ id: string; messages: TMessage[] }[]>`
    select id, messages from prompts where project_id = ${project.id} order by id limit ${limit}`.cursor(500);
  for await (const rows of cursor) yield rows.map((r) => JSON.stringify({ id: Number(r.id), messages: r.messages }) + '\n').join('');
}

/** What a run's input files are made from: version downloads in trainer formats, and prompt lists. */
export function runInputWriters(handle: TDbHandle, store: TArtifactStore): TInputWriters {
  return {
    version: (source) => streamVersionExport(store, source.versionId, { format: source.format, split: source.split }),
    prompts: (source) => versionPromptLines(handle, store, source.versionId, source.split, source.limit),
    pairs: (source) => versionPairLines(store, source.versionId, source.split),
    projectPrompts: (source) => projectPromptLines(handle, source.projectSlug, source.limit),
  };
}
