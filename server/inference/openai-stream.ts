import type { TMessage, TSampling } from '@/db/schema';
import { errorMessageOf, isRetryableStatus, redactKey, samplingFields, storableText, wireMessages } from './endpoint-protocol';
import { readSseEvents } from '../live/sse';
import { forbiddenApiKeyMessage, isForbiddenApiKeyVariable } from '../secret-names';

/** What it takes to call one OpenAI-compatible chat completions endpoint. */
export interface TChatEndpoint {
  baseUrl: string;
  apiModel: string;
  /** Name of the environment variable holding the API key; the key itself is never stored. */
  apiKeyEnv?: string | null;
  sampling: TSampling;
}

/**
 * A model endpoint failed. The message is meant for the annotator: it never holds the key and
 * says what happened in plain words. `retryable` marks failures a second try may fix.
 */
export class ModelEndpointError extends Error {
  readonly retryable: boolean;
  readonly status?: number;

  constructor(message: string, options: { retryable: boolean; status?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'ModelEndpointError';
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

export function chatCompletionsUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/chat/completions`;
}

export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`;
}

/** The error text of a failed response. */
async function readErrorMessage(response: Response): Promise<string> {
  return errorMessageOf((await response.text().catch(() => '')).slice(0, 4000), response.statusText);
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? 'unknown error';
}

/**
 * Streams one chat completion: POST {baseUrl}/chat/completions with `stream: true`, yielding
 * content deltas as they arrive. `timeoutMs` bounds the wait for the first byte and every gap
 * between chunks (a model that stalls mid-answer is as stuck as one that never starts).
 * Aborting `signal` (the browser went away) stops the request and throws its reason.
 */
export async function* streamChatCompletion(
  endpoint: TChatEndpoint,
  messages: TMessage[],
  options: { timeoutMs: number; signal?: AbortSignal },
): AsyncGenerator<string> {
  if (endpoint.apiKeyEnv && isForbiddenApiKeyVariable(endpoint.apiKeyEnv)) {
    throw new ModelEndpointError(`The model's API key variable ${endpoint.apiKeyEnv} ${forbiddenApiKeyMessage}.`, { retryable: false });
  }
  const key = endpoint.apiKeyEnv ? process.env[endpoint.apiKeyEnv] : undefined;
  if (endpoint.apiKeyEnv && !key) {
    throw new ModelEndpointError('The model endpoint’s API key is not configured on the server. Ask an admin.', { retryable: false });
  }
  options.signal?.throwIfAborted();

  const controller = new AbortController();
  let timedOut: 'first' | 'idle' | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (phase: 'first' | 'idle') => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = phase;
      controller.abort();
    }, options.timeoutMs);
  };
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const translate = (error: unknown): unknown => {
    if (error instanceof ModelEndpointError) return error;
    if (timedOut === 'first') return new ModelEndpointError(`The model did not answer within ${formatDuration(options.timeoutMs)}.`, { retryable: true, cause: error });
    if (timedOut === 'idle') return new ModelEndpointError(`The model stopped answering: nothing came for ${formatDuration(options.timeoutMs)}.`, { retryable: true, cause: error });
    if (options.signal?.aborted) return options.signal.reason ?? error;
    return new ModelEndpointError(`Could not reach the model endpoint (${networkReason(error)}).`, { retryable: true, cause: error });
  };

  arm('first');
  try {
    const response = await fetch(chatCompletionsUrl(endpoint.baseUrl), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ model: endpoint.apiModel, messages: wireMessages(messages), stream: true, ...samplingFields(endpoint.sampling) }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const message = redactKey(await readErrorMessage(response), key);
      throw new ModelEndpointError(`The model endpoint answered ${response.status}: ${message}`, { retryable: isRetryableStatus(response.status), status: response.status });
    }
    if (!response.body) throw new ModelEndpointError('The model endpoint sent an empty response.', { retryable: true });

    // A server that ignores `stream: true` answers with one JSON completion: take it whole.
    if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      const json = (await response.json().catch(() => null)) as { choices?: { message?: { content?: unknown } }[] } | null;
      const content = json?.choices?.[0]?.message?.content;
      if (typeof content !== 'string') throw new ModelEndpointError('The model endpoint sent an answer in an unknown format.', { retryable: true });
      if (content) yield storableText(content);
      return;
    }

    let complete = false;
    for await (const event of readSseEvents(response.body, () => arm('idle'))) {
      if (event.data === '[DONE]') {
        complete = true;
        break;
      }
      let chunk: { error?: { message?: string } | string; choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[] };
      try {
        chunk = JSON.parse(event.data);
      } catch {
        throw new ModelEndpointError('The model endpoint sent a stream chunk that is not JSON.', { retryable: true });
      }
      if (chunk.error) {
        const message = typeof chunk.error === 'string' ? chunk.error : (chunk.error.message ?? 'unknown error');
        throw new ModelEndpointError(`The model endpoint failed while answering: ${redactKey(message, key)}`, { retryable: true });
      }
      const choice = chunk.choices?.[0];
      const content = choice?.delta?.content;
      if (typeof content === 'string' && content) yield storableText(content);
      if (choice?.finish_reason) complete = true;
    }
    if (!complete) throw new ModelEndpointError('The model endpoint closed the stream before the answer was complete.', { retryable: true });
  } catch (error) {
    throw translate(error);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
