import type { TDbHandle } from '@/db/client';
import type { TArtifactStore } from '@/server/artifacts/store';
import { jobs } from '@/server/jobs/queue';
import { runRejectionSampling } from '@/server/sampling/rejection-sampling';
import { whenNotHeld, workerShutdownSignal } from '@/server/runs/run-state';

/**
 * Runs or resumes a rejection-sampling run. A run that succeeded or was cancelled is left as it
 * is; one held by another live worker is waited for. A run interrupted by the worker stopping
 * throws, so pg-boss retries the job and the retry resumes where the run stopped. A failed run
 * stays failed (the round sees it); enqueueing the job again resumes it.
 */
export const rejectionSamplingJob = {
  ...jobs.rejectionSampling,
  async handle(deps: { db: TDbHandle; store: TArtifactStore }, payload: { runId: number }) {
    const signal = workerShutdownSignal();
    const run = await whenNotHeld(() => runRejectionSampling(deps.db, deps.store, payload.runId, { signal }), { signal });
    if (!run) return { status: 'missing' };
    if (run.status === 'pending' && signal?.aborted) throw new Error(`rejection-sampling run ${run.id} was interrupted (${String(signal.reason)}); a retry resumes it`);
    return { status: run.status, done: run.progressDone, total: run.progressTotal, outputVersionId: run.outputVersionId, ...(run.error ? { error: run.error } : {}) };
  },
};
