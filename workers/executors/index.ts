import type { KubeConfig } from '@kubernetes/client-node';
import { artifactStoreJobEnv } from '@/server/artifacts/job-env';
import { parseExecutorConfig } from '@/server/executors/executors';
import { kubernetesExecutor } from './kubernetes';
import { localExecutor } from './local';
import { rayExecutor } from './ray';
import { slurmExecutor } from './slurm';
import type { TArtifactStore, TExecutor } from './types';

export type { TExecutor, TExecutorJob, TExecutorState, TExecutorStatus } from './types';

export interface TExecutorDeps {
  store: TArtifactStore;
  /** Overrides for tests and embedding: the fetch used for Ray, the environment secrets are read from, a ready KubeConfig. */
  fetch?: typeof fetch;
  env?: Record<string, string | undefined>;
  kubeConfig?: KubeConfig;
}

/** The executor for a row of the executors table; its config is validated for its kind (a bad one is a 400 naming the field). */
export function executorFor(row: { id: number; kind: 'local' | 'ray' | 'kubernetes' | 'slurm'; config: unknown }, deps: TExecutorDeps): TExecutor {
  const parsed = parseExecutorConfig(row.kind, row.config);
  // Jobs reach the artifact store (MinIO, R2, ...) with their own S3 tools: they need its endpoint and region.
  const storeEnv = artifactStoreJobEnv(deps.store);
  switch (parsed.kind) {
    case 'local':
      return localExecutor(parsed.config, { store: deps.store, env: deps.env });
    case 'ray':
      return rayExecutor(parsed.config, { fetch: deps.fetch, env: deps.env, storeEnv });
    case 'kubernetes':
      return kubernetesExecutor(parsed.config, { kubeConfig: deps.kubeConfig, storeEnv });
    case 'slurm':
      return slurmExecutor(parsed.config, { env: deps.env, storeEnv });
  }
}
