import type { TDbHandle } from '@/db/client';
import type { TArtifactStore } from '@/server/artifacts/store';
import { buildDatasetVersion } from '@/server/datasets/build-version';
import { jobs } from '@/server/jobs/queue';

export const buildDatasetJob = {
  ...jobs.buildDataset,
  async handle(deps: { db: TDbHandle; store: TArtifactStore }, payload: { versionId: number }) {
    const result = await buildDatasetVersion(deps.db, deps.store, payload.versionId);
    if (result?.status === 'failed') throw new Error(`dataset version ${payload.versionId} failed: ${result.error}`);
    return { status: result?.status ?? 'missing', pairs: (result?.manifest as { counts?: { pairs?: number } } | null)?.counts?.pairs ?? 0 };
  },
};
