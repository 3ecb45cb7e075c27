import { AppError } from '@/server/errors';
import type { TRayExecutorConfig } from '@/server/executors/schemas';
import { assertValidJob, jobName, jobNodes, resolveSecretEnv, shellQuote, tailText } from './common';
import type { TExecutor, TExecutorJob, TExecutorState, TExecutorStatus } from './types';

/**
 * A Ray cluster through its Jobs REST API (the dashboard's job server, port 8265 by default):
 * POST /api/jobs/, GET /api/jobs/{id}, GET /api/jobs/{id}/logs, POST /api/jobs/{id}/stop.
 * The submission id is our idempotency key; Ray refuses a second job with the same one.
 * Secrets never travel in the submission: Ray echoes entrypoint and runtime_env to anyone who can
 * call GET /api/jobs/, so `secretEnv` names variables already set on the Ray node.
 */

/** What GET /api/jobs/{id} answers (JobDetails); times are milliseconds since the epoch. */
interface TRayJobDetails {
  status: 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';
  submission_id?: string | null;
  message?: string | null;
  error_type?: string | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata?: Record<string, string> | null;
  driver_exit_code?: number | null;
}

const stateOf: Record<TRayJobDetails['status'], TExecutorState> = {
  PENDING: 'pending',
  RUNNING: 'running',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  STOPPED: 'cancelled',
};

export class RayRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    message: string,
  ) {
    super(message);
    this.name = 'RayRequestError';
  }
}

export function rayStatus(details: TRayJobDetails): TExecutorStatus {
  const state = stateOf[details.status];
  if (!state) throw new Error(`Ray answered an unknown job status ${String(details.status)}`);
  const status: TExecutorStatus = { state };
  const parts = [details.error_type, details.message].filter(Boolean);
  if (parts.length) status.message = parts.join(': ');
  // Ray reports 0 for "not yet".
  if (details.start_time) status.startedAt = new Date(details.start_time);
  if (details.end_time && state !== 'pending' && state !== 'running') status.finishedAt = new Date(details.end_time);
  return status;
}

/**
 * The entrypoint: the command, after `export JOB_VAR="${NODE_VAR:?...}"` for each secret, so the
 * value is read from the Ray node's environment when the job starts and only the variable's name
 * is in the submission. A variable missing on the node fails the job with its name in the logs.
 */
export function rayEntrypoint(command: string[], secretEnv: Record<string, string> | undefined): string {
  // Names are validated as variable names by the config schema, so they need no quoting.
  const exports = Object.entries(secretEnv ?? {}).map(([target, from]) => `export ${target}="\${${from}:?is not set on the Ray node (secretEnv.${target})}"`);
  return [...exports, shellQuote(command)].join(' && ');
}

/**
 * A Ray job's entrypoint is one process on one node (the driver); the Jobs API has no field that
 * starts it on several nodes, and `accelerate launch` needs one launcher per node with its own
 * rank. So a multi-node job is refused before anything is sent, saying what runs it instead.
 */
export function assertOneNode(job: Pick<TExecutorJob, 'nodes' | 'gpus'>): void {
  const nodes = jobNodes(job);
  if (nodes <= 1) return;
  throw new AppError(
    'BAD_REQUEST',
    `nodes: a Ray job runs its entrypoint as one process on one node, so the Ray executor cannot start the ${nodes} per-node launches this job needs. ` +
      `Run it on a Kubernetes executor (an indexed Job: one pod per node), or on one node with more GPUs (nodes 1; ${nodes * job.gpus} GPUs on one node give the same process count)`,
    { field: 'nodes' },
  );
}

export interface TRayExecutorDeps {
  fetch?: typeof fetch;
  /** Where header references are read (default: the worker's environment). */
  env?: Record<string, string | undefined>;
  /** Variables every job gets first (the artifact store's S3 settings); runtime_env.env_vars and the job's own win. */
  storeEnv?: Record<string, string>;
}

export function rayExecutor(config: TRayExecutorConfig, deps: TRayExecutorDeps = {}): TExecutor {
  const base = config.address.replace(/\/+$/, '');
  const doFetch = deps.fetch ?? fetch;
  const source = deps.env ?? process.env;
  const timeoutMs = (config.requestTimeoutSeconds ?? 30) * 1000;

  async function request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { accept: 'application/json', ...resolveSecretEnv(config.headers, source, 'headers') };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const url = `${base}${path}`;
    let response: Response;
    try {
      response = await doFetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new Error(`Ray job server ${base} unreachable (${method} ${path}): ${(error as Error).message}`, { cause: error });
    }
    return { status: response.status, text: await response.text() };
  }

  function fail(method: string, path: string, response: { status: number; text: string }): never {
    // The last line of a traceback is the error; Ray ends wrapped errors with a line holding only ".".
    const detail = response.text.split('\n').filter((line) => /\w/.test(line)).pop()?.trim() ?? '';
    throw new RayRequestError(response.status, response.text, `Ray ${method} ${path} answered HTTP ${response.status}${detail ? `: ${detail.slice(0, 500)}` : ''}`);
  }

  const jobPath = (externalId: string) => `/api/jobs/${encodeURIComponent(externalId)}`;

  async function details(externalId: string): Promise<TRayJobDetails | null> {
    const path = jobPath(externalId);
    const response = await request('GET', path);
    if (response.status === 404) return null;
    if (response.status !== 200) fail('GET', path, response);
    return JSON.parse(response.text) as TRayJobDetails;
  }

  /**
   * After a POST that failed or whose answer was lost: whether the job under this submission id is
   * this very run attempt (a resubmission, so success), absent (false), or someone else's (a conflict).
   */
  async function existingIsOurs(job: TExecutorJob, submissionId: string): Promise<boolean> {
    const existing = await details(submissionId);
    if (!existing) return false;
    const run = existing.metadata?.pairwise_run;
    const attempt = existing.metadata?.pairwise_attempt;
    if (run === String(job.runId) && attempt === String(job.attempt)) return true;
    throw new AppError(
      'CONFLICT',
      `Ray job ${submissionId} exists but is not run ${job.runId} attempt ${job.attempt}'s (its metadata says run ${run ?? 'none'}, attempt ${attempt ?? 'none'}): another installation shares this cluster?`,
    );
  }

  /** existingIsOurs, where a failing look-up counts as "not there" so the POST's own error is reported. */
  async function resubmitted(job: TExecutorJob, submissionId: string): Promise<boolean> {
    try {
      return await existingIsOurs(job, submissionId);
    } catch (error) {
      if (error instanceof AppError) throw error;
      return false;
    }
  }

  return {
    async submit(job) {
      assertValidJob(job);
      assertOneNode(job);
      const submissionId = jobName(job);
      const runtimeEnv = config.runtimeEnv ?? {};
      const body = {
        entrypoint: rayEntrypoint(job.command, config.secretEnv),
        submission_id: submissionId,
        runtime_env: {
          ...runtimeEnv,
          env_vars: { ...(deps.storeEnv ?? {}), ...(runtimeEnv.env_vars ?? {}), ...job.env },
        },
        entrypoint_num_gpus: job.gpus,
        ...(config.entrypointNumCpus !== undefined ? { entrypoint_num_cpus: config.entrypointNumCpus } : {}),
        ...(config.entrypointMemory !== undefined ? { entrypoint_memory: config.entrypointMemory } : {}),
        ...(config.entrypointResources ? { entrypoint_resources: config.entrypointResources } : {}),
        metadata: { pairwise_run: String(job.runId), pairwise_attempt: String(job.attempt) },
      };
      // A missing header variable fails here, before anything is sent (and not as a lost answer below).
      resolveSecretEnv(config.headers, source, 'headers');
      let response: { status: number; text: string };
      try {
        response = await request('POST', '/api/jobs/', body);
      } catch (error) {
        // The head may have accepted the job before the answer was lost (a timeout, a dropped connection).
        if (await resubmitted(job, submissionId)) return { externalId: submissionId };
        throw error;
      }
      if (response.status === 200) return { externalId: submissionId };
      // A repeated submission_id is refused: the head answers 500 around its job agent's 400
      // ("Job with submission_id ... already exists"), older heads and proxies 400 or 409. Rather
      // than parse tracebacks, ask for the job: if it is this attempt's, the submit already happened.
      if (await resubmitted(job, submissionId)) return { externalId: submissionId };
      fail('POST', '/api/jobs/', response);
    },

    async status(externalId) {
      const found = await details(externalId);
      if (!found) return { state: 'failed', message: `Ray does not know job ${externalId} (the cluster restarted, or the job was deleted)` };
      return rayStatus(found);
    },

    async logs(externalId, options) {
      const path = `${jobPath(externalId)}/logs`;
      const response = await request('GET', path);
      if (response.status === 404) return '';
      if (response.status !== 200) fail('GET', path, response);
      const { logs } = JSON.parse(response.text) as { logs?: string };
      return tailText(logs ?? '', options?.tailBytes);
    },

    async cancel(externalId) {
      const path = `${jobPath(externalId)}/stop`;
      const response = await request('POST', path);
      // 404: nothing to stop; {"stopped": false}: it had already ended.
      if (response.status !== 200 && response.status !== 404) fail('POST', path, response);
    },
  };
}
