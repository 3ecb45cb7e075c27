import { eq } from 'drizzle-orm';
import type { TDbHandle } from '@/db/client';
import { executors, runs } from '@/db/schema';
import type { TArtifactStore } from '@/server/artifacts/store';
import { executorFor } from '@/workers/executors';

/**
 * Waits for `check` to return a value; on time-out the error lists every run's state and the
 * worker's last log lines, which is what a failed round test needs to be understood.
 */
export async function until<T>(handle: TDbHandle, workerLog: string[], what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      const states = await handle.sql`select id, kind, status, attempt, error from runs order by id`;
      throw new Error(`timed out waiting for ${what}; runs: ${JSON.stringify(states)}; worker log:\n${workerLog.slice(-30).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deployments outlive their rounds by design: a test stops every one it made, also when it failed. */
export async function stopDeployments(handle: TDbHandle, store: TArtifactStore): Promise<void> {
  const deployed = await handle.db.select().from(runs).where(eq(runs.kind, 'deploy'));
  for (const run of deployed) {
    const [row] = run.executorId ? await handle.db.select().from(executors).where(eq(executors.id, run.executorId)) : [];
    if (row && run.externalId) await executorFor(row, { store }).cancel(run.externalId).catch(() => {});
  }
}
