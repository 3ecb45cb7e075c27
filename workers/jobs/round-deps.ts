import { eq } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { TDbHandle } from '@/db/client';
import { executors } from '@/db/schema';
import type { TArtifactStore } from '@/server/artifacts/store';
import type { TExecutor } from '@/server/executors/types';
import { executorFor } from '../executors';

/** What the round jobs need: the database, the artifact store, the queue, and how to reach executors. */
export interface TRoundJobDeps {
  db: TDbHandle;
  store: TArtifactStore;
  boss?: PgBoss;
  /** Seconds between polls of a running run (default 15; tests use less). */
  pollSeconds?: number;
  /** Replaces the executors table lookup (tests). */
  executorFor?: (executorId: number) => Promise<TExecutor>;
}

export function requireBoss(deps: TRoundJobDeps): PgBoss {
  if (!deps.boss) throw new Error('the round jobs need the worker’s queue');
  return deps.boss;
}

/** The executor of a row of the executors table, built for this worker. */
export async function resolveExecutor(deps: TRoundJobDeps, executorId: number | null): Promise<TExecutor | null> {
  if (executorId === null) return null;
  if (deps.executorFor) return deps.executorFor(executorId);
  const [row] = await deps.db.db.select().from(executors).where(eq(executors.id, executorId));
  if (!row) return null;
  return executorFor(row, { store: deps.store });
}
