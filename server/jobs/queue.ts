import PgBoss from 'pg-boss';
import type postgres from 'postgres';
import { z } from 'zod';

/** Every queue, with its payload schema. A job name is its file name under workers/jobs/. */
export const jobs = {
  exportProject: { name: 'export-project', payload: z.object({ exportId: z.number().int().positive() }) },
  countTokens: { name: 'count-tokens', payload: z.object({ projectId: z.number().int().positive() }) },
  buildDataset: { name: 'build-dataset', payload: z.object({ versionId: z.number().int().positive() }) },
  runSubmit: { name: 'run-submit', payload: z.object({ runId: z.number().int().positive() }) },
  runPoll: { name: 'run-poll', payload: z.object({ runId: z.number().int().positive() }) },
  roundAdvance: { name: 'round-advance', payload: z.object({ roundId: z.number().int().positive() }) },
  roundStage: { name: 'round-stage', payload: z.object({ runId: z.number().int().positive() }) },
  rejectionSampling: { name: 'rejection-sampling', payload: z.object({ runId: z.number().int().positive() }) },
  generate: { name: 'generate', payload: z.object({ runId: z.number().int().positive() }) },
} as const;
export const DEAD_LETTER_QUEUE = 'dead-letter';

export type TJobName = (typeof jobs)[keyof typeof jobs]['name'];

export function createBoss(url: string, role: 'web' | 'worker' | 'admin'): PgBoss {
  // pg-boss hands its options to node-postgres's Pool, whose settings its types do not list.
  const options: PgBoss.ConstructorOptions & { connectionTimeoutMillis: number } = {
    connectionString: url,
    application_name: `pairwise-${role}-queue`,
    max: role === 'worker' ? 4 : 2,
    // node-postgres waits for a connection forever by default: with the database away, enqueueing
    // and the worker's polling fail within seconds and are retried instead of piling up.
    connectionTimeoutMillis: 3_000,
    // Only the worker runs maintenance and the clock; the web app and CLI just enqueue.
    supervise: role === 'worker',
    schedule: role === 'worker',
  };
  return new PgBoss(options);
}

/** Creates the queues (idempotent). Called once at launch and by the worker on boot. */
export async function ensureQueues(boss: PgBoss): Promise<void> {
  const existing = new Set((await boss.getQueues()).map((q) => q.name));
  if (!existing.has(DEAD_LETTER_QUEUE)) await boss.createQueue(DEAD_LETTER_QUEUE);
  for (const job of Object.values(jobs)) {
    if (!existing.has(job.name)) {
      await boss.createQueue(job.name, { name: job.name, retryLimit: 2, retryDelay: 5, retryBackoff: true, deadLetter: DEAD_LETTER_QUEUE });
    }
  }
}

/**
 * pg-boss is written for node-postgres, which sends undefined as NULL and objects as JSON text;
 * postgres.js refuses both in unsafe(), so values are converted the node-postgres way.
 */
function asNodePostgresWould(value: unknown): unknown {
  if (value === undefined) return null;
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) return JSON.stringify(value);
  return value;
}

/** Lets pg-boss insert a job inside our own transaction: the job exists iff the write commits. */
export function inTransaction(tx: postgres.TransactionSql): PgBoss.Db {
  return {
    executeSql: async (text: string, values: unknown[]) => ({
      rows: await tx.unsafe(text, values.map(asNodePostgresWould) as postgres.ParameterOrJSON<never>[]),
    }),
  };
}

const globalForBoss = globalThis as unknown as { pairwiseBoss?: Promise<PgBoss> };

/** The process's enqueue-only pg-boss (web app, CLI), started on first use. */
export function getQueue(url: string): Promise<PgBoss> {
  if (!globalForBoss.pairwiseBoss) {
    globalForBoss.pairwiseBoss = (async () => {
      const boss = createBoss(url, 'web');
      boss.on('error', (error) => console.error('[queue]', error));
      await boss.start();
      await ensureQueues(boss);
      return boss;
    })();
    globalForBoss.pairwiseBoss.catch(() => (globalForBoss.pairwiseBoss = undefined));
  }
  return globalForBoss.pairwiseBoss;
}

/** Runs `fn` with a short-lived enqueue-only pg-boss on `url`, for one-shot processes (the CLI). */
export async function withAdminQueue<T>(url: string, fn: (boss: PgBoss) => Promise<T>): Promise<T> {
  const boss = createBoss(url, 'admin');
  boss.on('error', () => {});
  await boss.start();
  try {
    return await fn(boss);
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
  }
}
