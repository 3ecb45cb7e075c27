import type postgres from 'postgres';
import type { TMessage } from '@/db/schema';
import { splitOfPrompt } from '../datasets/split';
import type { TPromptSelection } from './schemas';

/** A failure of the run's own settings: retrying cannot help. */
export class RunSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunSpecError';
  }
}

export interface TSourcePrompt {
  id: number;
  projectId: number;
  messages: TMessage[];
  metadata: Record<string, unknown>;
}

/**
 * The prompt ids a selection names, ascending and distinct: a project's prompts (by slug), the
 * prompts of a built dataset version (a preference version's judged comparisons; an SFT
 * version's run items), and explicit ids. Unknown names and ids are errors that say which.
 */
export async function resolvePromptIds(sql: postgres.Sql, selection: TPromptSelection): Promise<number[]> {
  const ids = new Set<number>();
  const add = (rows: { id: string | number }[]) => {
    for (const row of rows) ids.add(Number(row.id));
  };
  if (selection.projectSlug !== undefined) {
    const [project] = await sql<{ id: string }[]>`select id from projects where slug = ${selection.projectSlug}`;
    if (!project) throw new RunSpecError(`prompts.projectSlug: no project with slug ${selection.projectSlug}`);
    add(await sql<{ id: string }[]>`select id from prompts where project_id = ${project.id}`);
  }
  if (selection.datasetVersionId !== undefined) {
    const versionId = selection.datasetVersionId;
    const [version] = await sql<{ kind: string; status: string; spec: { splitSeed?: string; testFraction?: number } }[]>`select kind, status, spec from dataset_versions where id = ${versionId}`;
    if (!version) throw new RunSpecError(`prompts.datasetVersionId: no dataset version ${versionId}`);
    if (version.status !== 'succeeded') throw new RunSpecError(`prompts.datasetVersionId: dataset version ${versionId} is ${version.status}, not built`);
    if (version.kind === 'sft') {
      add(await sql<{ id: string }[]>`select distinct ri.prompt_id as id from runs r join run_items ri on ri.run_id = r.id where r.output_version_id = ${versionId}`);
    } else {
      const rows = await sql<{ id: string; content_hash: string }[]>`
        select distinct c.prompt_id as id, p.content_hash from dataset_version_judgments v
        join judgments j on j.id = v.judgment_id join comparisons c on c.id = j.comparison_id join prompts p on p.id = c.prompt_id
        where v.version_id = ${versionId}`;
      // The version's own split rule (by prompt content), so the selection matches its files.
      const { splitSeed = '', testFraction = 0 } = version.spec;
      add(selection.split ? rows.filter((r) => splitOfPrompt(r.content_hash, splitSeed, testFraction) === selection.split) : rows);
    }
  }
  if (selection.promptIds?.length) {
    const wanted = [...new Set(selection.promptIds)];
    const found = await sql<{ id: string }[]>`select id from prompts where id = any(${wanted}::bigint[])`;
    const known = new Set(found.map((r) => Number(r.id)));
    const missing = wanted.filter((id) => !known.has(id));
    if (missing.length > 0) {
      throw new RunSpecError(`prompts.promptIds: no prompt with id ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}`);
    }
    add(found);
  }
  return [...ids].sort((a, b) => a - b);
}

/**
 * Hands out prompts one at a time to concurrent workers, loading them from the database a page
 * at a time, so memory holds a page of prompts, not the whole selection.
 */
export function promptFeed(sql: postgres.Sql, ids: readonly number[], pageSize = 200): () => Promise<TSourcePrompt | null> {
  let page: TSourcePrompt[] = [];
  let offset = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const take = async (): Promise<TSourcePrompt | null> => {
    if (page.length === 0) {
      if (offset >= ids.length) return null;
      const slice = ids.slice(offset, offset + pageSize);
      offset += slice.length;
      const rows = await sql<{ id: string; projectId: string; messages: TMessage[]; metadata: Record<string, unknown> }[]>`
        select id, project_id as "projectId", messages, metadata from prompts where id = any(${slice as number[]}::bigint[]) order by id`;
      page = rows.map((r) => ({ id: Number(r.id), projectId: Number(r.projectId), messages: r.messages, metadata: r.metadata }));
      // Prompts deleted since the selection was resolved are skipped.
      if (page.length === 0) return take();
    }
    return page.shift() ?? null;
  };
  return () => {
    const next = chain.then(take);
    chain = next.catch(() => undefined);
    return next;
  };
}
