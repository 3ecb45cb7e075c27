export type { TArtifactStore } from '@/server/artifacts/store';
export * from '@/server/executors/types';
