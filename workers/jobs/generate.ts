import type { TDbHandle } from '@/db/client';
import { jobs } from '@/server/jobs/queue';
import { runGeneration } from '@/server/sampling/generation';
import { whenNotHeld, workerShutdownSignal } from '@/server/runs/run-state';

/**
 * Runs or resumes a generation run (answers paired into comparisons of the target project). A
 * run that succeeded or was cancelled is left as it is; one held by another live worker is
 * waited for. A run interrupted by the worker stopping throws, so pg-boss retries and the retry
 * resumes it. A failed run stays failed; enqueueing the job again resumes it.
 */
export const generateJob = {
  ...jobs.generate,
  async handle(deps: { db: TDbHandle }, payload: { runId: number }) {
    const signal = workerShutdownSignal();
    const run = await whenNotHeld(() => runGeneration(deps.db, payload.runId, { signal }), { signal });
    if (!run) return { status: 'missing' };
    if (run.status === 'pending' && signal?.aborted) throw new Error(`generate run ${run.id} was interrupted (${String(signal.reason)}); a retry resumes it`);
    return { status: run.status, done: run.progressDone, total: run.progressTotal, comparisons: (run.metrics as { comparisons?: number }).comparisons ?? 0, ...(run.error ? { error: run.error } : {}) };
  },
};
