import { readFileSync } from 'node:fs';
import path from 'node:path';
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

/** `export JOB_VAR="${NODE_VAR:?...}"` for each secret (names are validated as variable names by the config schema, so they need no quoting). */
function secretExports(secretEnv: Record<string, string> | undefined): string[] {
  return Object.entries(secretEnv ?? {}).map(([target, from]) => `export ${target}="\${${from}:?is not set on the Ray node (secretEnv.${target})}"`);
}

/**
 * The entrypoint: the command, after `export JOB_VAR="${NODE_VAR:?...}"` for each secret, so the
 * value is read from the Ray node's environment when the job starts and only the variable's name
 * is in the submission. A variable missing on the node fails the job with its name in the logs.
 */
export function rayEntrypoint(command: string[], secretEnv: Record<string, string> | undefined): string {
  return [...secretExports(secretEnv), shellQuote(command)].join(' && ');
}

/** The driver of a job over several nodes (workers/host/ray_multinode.py), read once. */
export const rayMultiNodeDriverPath = path.join(process.cwd(), 'workers', 'host', 'ray_multinode.py');
let driverSource: string | undefined;

/**
 * The driver's source as it goes into the entrypoint: without its comment lines and blank lines
 * (Ray prints the entrypoint at the top of the job's logs, and shows it in the dashboard).
 */
export function rayMultiNodeDriver(): string {
  driverSource ??= readFileSync(rayMultiNodeDriverPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .join('\n');
  return driverSource;
}

/**
 * A Ray job's entrypoint is one process on one node (the driver), and `entrypoint_num_gpus`
 * reserves GPUs for that process only; `accelerate launch` needs one launcher per node with its
 * own rank. So a job over several nodes has a driver of ours as its entrypoint: it reserves one
 * bundle of `gpus` GPUs per node (a STRICT_SPREAD placement group), runs the command once on each
 * with PAIRWISE_NODE_RANK and PAIRWISE_MASTER_ADDR (rank 0's node IP), prints every rank's output
 * as `<rank>: <line>`, fails as soon as one rank fails, and ends every rank when it is stopped
 * (see workers/host/ray_multinode.py). Ray workers do not inherit the driver's environment: the
 * driver hands the variables named by `--env` (the secrets exported before it, and the job's
 * runtime_env variables) to each rank at run time, so no value is in the submission.
 */
export function rayMultiNodeEntrypoint(job: Pick<TExecutorJob, 'command' | 'gpus' | 'nodes'>, secretEnv: Record<string, string> | undefined, envNames: string[]): string {
  const names = [...new Set([...Object.keys(secretEnv ?? {}), ...envNames])];
  const driver = ['python3', '-c', rayMultiNodeDriver(), '--nodes', String(jobNodes(job)), '--gpus-per-node', String(job.gpus), ...names.flatMap((name) => ['--env', name]), '--', ...job.command];
  return [...secretExports(secretEnv), shellQuote(driver)].join(' && ');
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
      const submissionId = jobName(job);
      const runtimeEnv = config.runtimeEnv ?? {};
      const envVars = { ...(deps.storeEnv ?? {}), ...(runtimeEnv.env_vars ?? {}), ...job.env };
      const multiNode = jobNodes(job) > 1;
      const body = {
        entrypoint: multiNode ? rayMultiNodeEntrypoint(job, config.secretEnv, Object.keys(envVars)) : rayEntrypoint(job.command, config.secretEnv),
        submission_id: submissionId,
        runtime_env: { ...runtimeEnv, env_vars: envVars },
        // Over several nodes the driver needs no GPU: its placement group reserves them on the nodes.
        entrypoint_num_gpus: multiNode ? 0 : job.gpus,
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
