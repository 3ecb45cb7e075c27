import type { TDbHandle } from '@/db/client';
import type { TArtifactStore } from '@/server/artifacts/store';
import { buildDatasetVersion } from '@/server/datasets/build-version';
import { jobs } from '@/server/jobs/queue';

export const buildDatasetJob = {
  ...jobs.buildDataset,
  async handle(deps: { db: TDbHandle; store: TArtifactStore }, payload: { versionId: number }, job?: { attempt: number }) {
    // A retry runs because the previous attempt failed or its worker died: a version it left
    // "running" is taken over at once, not after its heartbeat goes stale (pg-boss's retries
    // would all be spent by then, leaving the version running for good).
    const result = await buildDatasetVersion(deps.db, deps.store, payload.versionId, { takeOver: (job?.attempt ?? 0) > 0 });
    if (result?.status === 'failed') throw new Error(`dataset version ${payload.versionId} failed: ${result.error}`);
    return { status: result?.status ?? 'missing', pairs: (result?.manifest as { counts?: { pairs?: number } } | null)?.counts?.pairs ?? 0 };
  },
};
