import type PgBoss from 'pg-boss';
import { sql, type SQL } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TMessage } from '@/db/schema';
import { createBoss, jobs } from '../jobs/queue';
import { countMessageTokens, type TTokenCounter } from '../ml/tokenizer';

export interface TTokenCountResult {
  prompts: number;
  responses: number;
}

const DEFAULT_BATCH_SIZE = 500;

/** A Postgres array literal of integers, one parameter however long the batch. */
const intArray = (values: readonly number[], type: 'bigint' | 'int') => sql`${`{${values.map((v) => Math.trunc(v)).join(',')}}`}::${sql.raw(type)}[]`;

/**
 * Fills `prompts.token_count` and `responses.token_count` where they are null, for one project
 * (responses of its prompts, edits included). Walks the rows by id in batches (a keyset cursor:
 * no transaction stays open across batches, so imports and annotation go on meanwhile). Writes
 * only where the count is still null, so a retried or concurrent run changes nothing twice.
 */
export async function fillTokenCounts(
  db: TDb,
  input: { projectId: number; counter: TTokenCounter; batchSize?: number; onBatch?: (done: TTokenCountResult) => void },
): Promise<TTokenCountResult> {
  const batchSize = input.batchSize ?? DEFAULT_BATCH_SIZE;
  const done: TTokenCountResult = { prompts: 0, responses: 0 };

  const count = (select: (after: number) => SQL, table: 'prompts' | 'responses') =>
    countInBatches(db, input.counter, batchSize, select, table, (n) => {
      done[table] += n;
      input.onBatch?.({ ...done });
    });
  await count(
    (after) => sql`select id, messages from prompts
      where project_id = ${input.projectId} and token_count is null and id > ${after} order by id limit ${batchSize}`,
    'prompts',
  );
  await count(
    (after) => sql`select r.id, r.messages from responses r join prompts p on p.id = r.prompt_id
      where p.project_id = ${input.projectId} and r.token_count is null and r.id > ${after} order by r.id limit ${batchSize}`,
    'responses',
  );
  return done;
}

/** Counts the rows `select` pages through (by id) and writes their token counts to `table`. */
async function countInBatches(
  db: TDb,
  counter: TTokenCounter,
  batchSize: number,
  select: (after: number) => SQL,
  table: 'prompts' | 'responses',
  onCounted: (n: number) => void,
): Promise<void> {
  for (let after = 0; ; ) {
    const rows = await db.execute<{ id: string | number; messages: TMessage[] }>(select(after));
    if (rows.length === 0) return;
    const ids = rows.map((r) => Number(r.id));
    const counts = rows.map((r) => countMessageTokens(counter, r.messages));
    const updated = await db.execute(sql`
      update ${sql.raw(table)} t set token_count = v.n
      from unnest(${intArray(ids, 'bigint')}, ${intArray(counts, 'int')}) as v(id, n)
      where t.id = v.id and t.token_count is null`);
    onCounted(updated.count);
    after = ids[ids.length - 1]!;
    if (rows.length < batchSize) return;
  }
}

/**
 * Queues the count-tokens job of a project. Not deduplicated: a run with nothing left to count
 * is two cheap queries, and skipping a request could leave rows of a later import uncounted.
 */
export async function requestTokenCount(boss: PgBoss, projectId: number): Promise<string> {
  const jobId = await boss.send(jobs.countTokens.name, { projectId });
  if (!jobId) throw new Error(`the ${jobs.countTokens.name} queue does not exist: run the worker (npm start) once`);
  return jobId;
}

/**
 * After an import: token statistics are a nicety, so a queue that is missing or unreachable
 * only logs a warning; the import has succeeded either way, and the dashboard's "Count
 * tokens" button can queue the job later.
 */
export async function requestTokenCountBestEffort(
  getBoss: () => Promise<PgBoss>,
  projectId: number,
  warn: (line: string) => void = (line) => console.warn(line),
): Promise<string | null> {
  try {
    return await requestTokenCount(await getBoss(), projectId);
  } catch (error) {
    warn(`[tokens] could not queue token counting for project ${projectId}: ${(error as Error).message}`);
    return null;
  }
}

/** The same, for one-shot processes (the CLI): a short-lived enqueue-only pg-boss on `url`. */
export async function requestTokenCountAt(url: string, projectId: number, warn?: (line: string) => void): Promise<string | null> {
  let boss: PgBoss | undefined;
  try {
    return await requestTokenCountBestEffort(
      async () => {
        boss = createBoss(url, 'admin');
        boss.on('error', () => {});
        await boss.start();
        return boss;
      },
      projectId,
      warn,
    );
  } finally {
    await boss?.stop({ graceful: false, wait: true }).catch(() => {});
  }
}
