/**
 * What the round machinery needs from an executor (workers/executors implements it for a local
 * process, Ray and Kubernetes). Server code only sees this shape; the worker supplies the object.
 */
export type TExecutorState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TRoundExecutor {
  submit(job: { runId: number; attempt: number; command: string[]; env: Record<string, string>; gpus: number; nodes?: number; artifactPrefix: string }): Promise<{ externalId: string }>;
  status(externalId: string): Promise<{ state: TExecutorState; message?: string; startedAt?: Date | string | null; finishedAt?: Date | string | null }>;
  logs(externalId: string, options?: { tailBytes?: number }): Promise<string>;
  cancel(externalId: string): Promise<void>;
}

/** Finds the executor of a run by its row id (null: the round's executor was deleted). */
export type TExecutorResolver = (executorId: number) => Promise<TRoundExecutor>;
