import type { TDbHandle } from '@/db/client';
import type { TArtifactStore } from '@/server/artifacts/store';
import { buildDatasetVersion } from '@/server/datasets/build-version';
import { jobs } from '@/server/jobs/queue';

export const buildDatasetJob = {
  ...jobs.buildDataset,
  async handle(deps: { db: TDbHandle; store: TArtifactStore }, payload: { versionId: number }, job?: { attempt: number; alone: boolean }) {
    // A retry whose earlier attempt no longer holds the job's lock (it failed, or its worker
    // died) takes over a version that attempt left "running" at once, not after its heartbeat
    // goes stale: pg-boss's retries would all be spent by then, leaving it running for good.
    // An earlier attempt still alive (a job re-delivered past its expiry) keeps its version.
    const result = await buildDatasetVersion(deps.db, deps.store, payload.versionId, { takeOver: (job?.attempt ?? 0) > 0 && job?.alone === true });
    if (result?.status === 'failed') throw new Error(`dataset version ${payload.versionId} failed: ${result.error}`);
    return { status: result?.status ?? 'missing', pairs: (result?.manifest as { counts?: { pairs?: number } } | null)?.counts?.pairs ?? 0 };
  },
};
