import type { TDbHandle } from '@/db/client';
import type { TArtifactStore } from '@/server/artifacts/store';
import { runExport } from '@/server/exports/exports';
import { jobs } from '@/server/jobs/queue';

export const exportProjectJob = {
  ...jobs.exportProject,
  async handle(deps: { db: TDbHandle; store: TArtifactStore }, payload: { exportId: number }) {
    const result = await runExport(deps.db, deps.store, payload.exportId);
    if (result?.status === 'failed') throw new Error(`export ${payload.exportId} failed: ${result.error}`);
    return { status: result?.status ?? 'missing', rows: result?.rowCount ?? 0 };
  },
};
