/**
 * The one executor interface: what the round machinery (server/rounds) asks of a place to run
 * work, and what each engine in workers/executors implements (a local process, Ray, Kubernetes).
 */

export interface TExecutorJob {
  /** Our run id and attempt: the idempotency key (Ray submission_id / Job name `pairwise-run-<runId>-<attempt>`). */
  runId: number;
  attempt: number;
  /** argv of the entrypoint, e.g. ['trl', 'dpo', '--config', '/path/config.yaml']. */
  command: string[];
  /** Extra environment for the process (no secrets inline: secrets come from the executor config's env var references). */
  env: Record<string, string>;
  /** GPUs per node. */
  gpus: number;
  /**
   * Nodes the job spans (default 1). Each node runs the same command with PAIRWISE_NODE_RANK
   * (0..nodes-1) and PAIRWISE_MASTER_ADDR (the first node's address) set by the executor.
   */
  nodes?: number;
  /** Artifact-store prefix of the run (`runs/<id>/`): local executor writes logs there (`runs/<id>/logs.txt`). */
  artifactPrefix: string;
}

export type TExecutorState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TExecutorStatus {
  state: TExecutorState;
  message?: string;
  startedAt?: Date;
  finishedAt?: Date;
  /** GPU-seconds the engine itself accounts for the job, all nodes together (Slurm's allocated GPUs x elapsed time); absent where it reports none. */
  gpuSeconds?: number;
}

export interface TExecutor {
  /** Idempotent: submitting the same runId+attempt twice returns the same externalId without starting twice. */
  submit(job: TExecutorJob): Promise<{ externalId: string }>;
  status(externalId: string): Promise<TExecutorStatus>;
  /** The log text (the last `tailBytes` bytes when given). */
  logs(externalId: string, options?: { tailBytes?: number }): Promise<string>;
  cancel(externalId: string): Promise<void>;
}

export const terminalStates: readonly TExecutorState[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminalState(state: TExecutorState): boolean {
  return terminalStates.includes(state);
}
