import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessageOf, isRetryableStatus, redactKey } from './endpoint-protocol';
import { formatDuration, ModelEndpointError } from './openai-stream';
import { forbiddenApiKeyMessage, isForbiddenApiKeyVariable } from '../secret-names';

/**
 * The request policy shared by the sampling clients (policies and reward models): JSON POSTs
 * with a per-attempt timeout, retries with exponential backoff and jitter on 408, 429, 5xx,
 * timeouts and network errors (a `Retry-After` or `retry-after-ms` header is a floor for the
 * wait), and an optional limiter that bounds the requests in flight across a whole run.
 */

export interface TRequestPolicy {
  /** Retries after the first attempt (0: one attempt only). */
  maxRetries: number;
  /** The first backoff; each retry doubles it, up to maxDelayMs, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Bound on one attempt: connecting, waiting for the answer and reading it. */
  timeoutMs: number;
}

export const defaultRequestPolicy: TRequestPolicy = { maxRetries: 5, baseDelayMs: 500, maxDelayMs: 30_000, timeoutMs: 120_000 };

/** A server asking for more than this is not waited for longer: the run would look stuck. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

export interface TRequestHooks {
  /** Bounds the requests in flight; the slot is held during the request only, not while backing off. */
  limiter?: TLimiter;
  signal?: AbortSignal;
  /** Called before every attempt (for request counts). */
  onAttempt?: (attempt: number) => void;
  /** Called before sleeping for a retry. */
  onRetry?: (info: { attempt: number; delayMs: number; error: ModelEndpointError }) => void;
}

const abortHooks = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `hook` when `signal` aborts; returns the unsubscribe. One listener per signal serves
 * every request of a run: EventTarget scans its listeners on each add, and a run has hundreds.
 */
export function onAbort(signal: AbortSignal | undefined, hook: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    let live = true;
    queueMicrotask(() => live && hook());
    return () => (live = false);
  }
  let hooks = abortHooks.get(signal);
  if (!hooks) {
    const set = new Set<() => void>();
    hooks = set;
    abortHooks.set(signal, set);
    signal.addEventListener('abort', () => {
      for (const h of [...set]) h();
      set.clear();
    }, { once: true });
  }
  hooks.add(hook);
  const registered = hooks;
  return () => registered.delete(hook);
}

/** At most `max` tasks at a time, started in arrival order. */
export interface TLimiter {
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  readonly max: number;
  readonly active: number;
}

export function createLimiter(max: number): TLimiter {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`a limiter needs a positive integer, not ${max}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  // A finishing task hands its slot to the first waiter, so no newcomer can slip in between.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  };
  return {
    max,
    get active() {
      return active;
    },
    async run(task, signal) {
      signal?.throwIfAborted();
      if (active < max) {
        active += 1;
      } else {
        await new Promise<void>((resolve, reject) => {
          const start = () => {
            unsubscribe();
            resolve();
          };
          const unsubscribe = onAbort(signal, () => {
            const at = waiting.indexOf(start);
            if (at >= 0) waiting.splice(at, 1);
            reject(signal!.reason);
          });
          waiting.push(start);
        });
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}

/**
 * Runs `fn` over `items` with at most `concurrency` calls at once; results keep the input order.
 * The first failure stops starting new calls and is thrown once the running ones settle.
 */
export async function mapWithConcurrency<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | null = null;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failed) throw (failed as { error: unknown }).error;
  return results;
}

/** The API key from the environment variable a model entry names; the key itself is never stored. */
export function apiKeyFrom(apiKeyEnv: string | null | undefined, what: string): string | undefined {
  if (!apiKeyEnv) return undefined;
  // Checked again where the key is read: a row written before the rule existed must not leak one.
  if (isForbiddenApiKeyVariable(apiKeyEnv)) throw new ModelEndpointError(`${what}: the API key variable ${apiKeyEnv} ${forbiddenApiKeyMessage}`, { retryable: false });
  const key = process.env[apiKeyEnv];
  if (!key) throw new ModelEndpointError(`${what}: the API key is not configured (environment variable ${apiKeyEnv} is not set on the worker)`, { retryable: false });
  return key;
}

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

type THeaders = Record<string, string | string[] | undefined>;

function header(headers: THeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Milliseconds the server asks to wait: `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMs(headers: THeaders, now = Date.now()): number | null {
  const msText = header(headers, 'retry-after-ms');
  const ms = Number(msText);
  if (msText !== undefined && msText.trim() !== '' && Number.isFinite(ms) && ms >= 0) return ms;
  const value = header(headers, 'retry-after')?.trim();
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Exponential backoff with jitter: uniform in [d/2, d] where d = base · 2^retry, capped; never below what the server asked. */
export function backoffDelay(policy: Pick<TRequestPolicy, 'baseDelayMs' | 'maxDelayMs'>, retry: number, serverAskedMs: number | null, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(jittered, Math.min(serverAskedMs ?? 0, MAX_RETRY_AFTER_MS));
}

class AttemptFailure extends ModelEndpointError {
  readonly retryAfterMs: number | null;
  constructor(message: string, options: { retryable: boolean; status?: number; retryAfterMs?: number | null; cause?: unknown }) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

// Keep-alive connections, reused across requests: a run sends thousands to the same servers.
const agents = { http: new http.Agent({ keepAlive: true, scheduling: 'lifo' }), https: new https.Agent({ keepAlive: true, scheduling: 'lifo' }) };

interface TRawResponse {
  status: number;
  statusMessage: string | undefined;
  headers: THeaders;
  text: string;
}

/**
 * One POST through node:http with a keep-alive agent (a fraction of fetch's CPU per request,
 * which matters at hundreds of requests a second). Rejects with `timedOut` set when the whole
 * exchange took longer than `timeoutMs`, and with the signal's reason when it aborts.
 */
function send(url: URL, body: string, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal | undefined): Promise<TRawResponse> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    let settled = false;
    let timedOut = false;
    const finish = (error: unknown, value?: TRawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      if (error) reject(Object.assign(error instanceof Error ? error : new Error(String(error)), { timedOut }));
      else resolve(value!);
    };
    const request = (secure ? https : http).request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_RESPONSE_BYTES) request.destroy(new Error(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        response.on('end', () =>
          finish(null, { status: response.statusCode ?? 0, statusMessage: response.statusMessage, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', finish);
        response.on('aborted', () => finish(new Error('the connection closed before the answer was complete')));
      },
    );
    const timer = setTimeout(() => {
      timedOut = true;
      request.destroy(new Error('timeout'));
    }, timeoutMs);
    const unsubscribe = onAbort(signal, () => {
      request.destroy();
      finish(signal!.reason);
    });
    request.on('error', finish);
    request.end(body);
  });
}

function networkReason(error: unknown): string {
  const e = error as { code?: string; message?: string } | null;
  return e?.code ?? e?.message ?? 'unknown error';
}

async function attempt(url: URL, body: string, key: string | undefined, what: string, policy: TRequestPolicy, signal: AbortSignal | undefined): Promise<unknown> {
  let response: TRawResponse;
  try {
    response = await send(url, body, { 'content-type': 'application/json', accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, policy.timeoutMs, signal);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if ((error as { timedOut?: boolean }).timedOut) throw new AttemptFailure(`${what}: no complete answer within ${formatDuration(policy.timeoutMs)}`, { retryable: true, cause: error });
    throw new AttemptFailure(`${what}: could not reach the endpoint (${redactKey(networkReason(error), key)})`, { retryable: true, cause: error });
  }
  if (response.status < 200 || response.status >= 300) {
    throw new AttemptFailure(`${what}: the endpoint answered ${response.status}: ${redactKey(errorMessageOf(response.text.slice(0, 4000), response.statusMessage), key)}`, {
      retryable: isRetryableStatus(response.status),
      status: response.status,
      retryAfterMs: retryAfterMs(response.headers),
    });
  }
  try {
    return JSON.parse(response.text);
  } catch {
    throw new AttemptFailure(`${what}: the endpoint sent an answer that is not JSON`, { retryable: true, status: response.status });
  }
}

/**
 * POSTs `payload` as JSON and returns the parsed answer, retrying transient failures. Gives up
 * with a ModelEndpointError (`retryable: false`) whose message says what failed and after how
 * many attempts; an aborted signal throws its reason at once.
 */
export async function postJson(
  url: string,
  payload: unknown,
  options: { apiKeyEnv?: string | null; what: string; policy?: Partial<TRequestPolicy> } & TRequestHooks,
): Promise<unknown> {
  const policy = { ...defaultRequestPolicy, ...options.policy };
  const key = apiKeyFrom(options.apiKeyEnv, options.what);
  const body = JSON.stringify(payload);
  const target = new URL(url);
  const signal = options.signal;
  for (let retry = 0; ; retry++) {
    signal?.throwIfAborted();
    try {
      options.onAttempt?.(retry);
      const call = () => attempt(target, body, key, options.what, policy, signal);
      return await (options.limiter ? options.limiter.run(call, signal) : call());
    } catch (error) {
      if (!(error instanceof AttemptFailure)) throw error;
      if (!error.retryable || retry >= policy.maxRetries) {
        const attempts = retry + 1;
        const suffix = error.retryable ? ` (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'})` : '';
        throw new ModelEndpointError(`${error.message}${suffix}`, { retryable: false, status: error.status, cause: error });
      }
      const delayMs = backoffDelay(policy, retry, error.retryAfterMs);
      options.onRetry?.({ attempt: retry, delayMs, error });
      await sleep(delayMs, undefined, signal ? { signal } : undefined).catch(() => {
        throw signal?.reason ?? new Error('aborted');
      });
    }
  }
}
