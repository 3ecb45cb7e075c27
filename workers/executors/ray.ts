import { AppError } from '@/server/errors';
import type { TRayExecutorConfig } from '@/server/executors/schemas';
import { assertValidJob, jobName, resolveSecretEnv, shellQuote, tailText } from './common';
import type { TExecutor, TExecutorState, TExecutorStatus } from './types';

/**
 * A Ray cluster through its Jobs REST API (the dashboard's job server, port 8265 by default):
 * POST /api/jobs/, GET /api/jobs/{id}, GET /api/jobs/{id}/logs, POST /api/jobs/{id}/stop.
 * The submission id is our idempotency key; Ray refuses a second job with the same one.
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

export interface TRayExecutorDeps {
  fetch?: typeof fetch;
  /** Where header and secret references are read (default: the worker's environment). */
  env?: Record<string, string | undefined>;
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
    const detail = response.text.trim().split('\n').filter(Boolean).pop() ?? '';
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

  return {
    async submit(job) {
      assertValidJob(job);
      const submissionId = jobName(job);
      const runtimeEnv = config.runtimeEnv ?? {};
      const body = {
        entrypoint: shellQuote(job.command),
        submission_id: submissionId,
        runtime_env: {
          ...runtimeEnv,
          env_vars: { ...(runtimeEnv.env_vars ?? {}), ...job.env, ...resolveSecretEnv(config.secretEnv, source) },
        },
        entrypoint_num_gpus: job.gpus,
        ...(config.entrypointNumCpus !== undefined ? { entrypoint_num_cpus: config.entrypointNumCpus } : {}),
        ...(config.entrypointMemory !== undefined ? { entrypoint_memory: config.entrypointMemory } : {}),
        ...(config.entrypointResources ? { entrypoint_resources: config.entrypointResources } : {}),
        metadata: { pairwise_run: String(job.runId), pairwise_attempt: String(job.attempt) },
      };
      const response = await request('POST', '/api/jobs/', body);
      if (response.status === 200) return { externalId: submissionId };
      // A resubmission: Ray answers 400 (409 behind some proxies) with "... already exists".
      if ((response.status === 400 || response.status === 409) && /already exists/i.test(response.text)) {
        const existing = await details(submissionId);
        if (existing) {
          const owner = existing.metadata?.pairwise_run;
          if (owner !== undefined && owner !== String(job.runId)) {
            throw new AppError('CONFLICT', `Ray job ${submissionId} exists but belongs to run ${owner}: another installation shares this cluster?`);
          }
          return { externalId: submissionId };
        }
      }
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
