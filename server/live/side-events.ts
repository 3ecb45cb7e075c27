import { randomUUID } from 'node:crypto';
import type { TDb } from '@/db/client';
import { AppError, isAppError } from '../errors';
import { generateSide } from './generate-side';
import { ModelEndpointError } from '../inference/openai-stream';
import { ZSide, type TSide } from './schemas';
import { formatSseEvent } from './sse';
import { requireOwnTurn } from './turns';

/** Proxies and Next.js' gzip must pass each event through at once: no-transform turns compression off. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

const KEEP_ALIVE_MS = 15_000;

/**
 * One side of a live turn as server-sent events: `delta` {text} as the model writes, then
 * `done`, or `error` {message, retryable} with a message meant for the annotator. Aborting
 * `signal` or cancelling the stream (the browser left) stops the model request.
 */
export function sideEventStream(db: TDb, input: { turnId: number; side: TSide; annotatorId: number; signal?: AbortSignal; timeoutMs?: number }): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const abort = new AbortController();
  const onAbort = () => abort.abort(input.signal?.reason);
  input.signal?.addEventListener('abort', onAbort, { once: true });

  return new ReadableStream<Uint8Array>({
    start(stream) {
      let open = true;
      const write = (text: string) => {
        if (!open) return;
        try {
          stream.enqueue(encoder.encode(text));
        } catch {
          open = false; // the consumer is gone
        }
      };
      // Comments keep idle connections open through proxies while a model thinks.
      const keepAlive = setInterval(() => write(': keep-alive\n\n'), KEEP_ALIVE_MS);
      void (async () => {
        try {
          for await (const text of generateSide(db, { ...input, signal: abort.signal })) write(formatSseEvent('delta', { text }));
          write(formatSseEvent('done', {}));
        } catch (error) {
          if (abort.signal.aborted) return;
          if (error instanceof ModelEndpointError) write(formatSseEvent('error', { message: error.message, retryable: error.retryable }));
          else if (isAppError(error)) write(formatSseEvent('error', { message: error.message, retryable: false }));
          else {
            const logId = randomUUID().slice(0, 8);
            console.error(`[live] internal error ${logId}:`, error);
            write(formatSseEvent('error', { message: `Internal error (log id ${logId})`, retryable: true }));
          }
        } finally {
          clearInterval(keepAlive);
          input.signal?.removeEventListener('abort', onAbort);
          if (open) {
            open = false;
            try {
              stream.close();
            } catch {
              // already closed by a cancel
            }
          }
        }
      })();
    },
    cancel() {
      abort.abort();
    },
  });
}

/**
 * GET /api/live/turns/{turn}/stream?side=0|1 without the session lookup: the route hands in
 * the signed-in user. Bad parameters are a 400; a turn that is not the user's is a 404 before
 * any stream starts.
 */
export async function liveSideResponse(
  db: TDb,
  input: { annotatorId: number; turn: string; side: string | null; signal?: AbortSignal; timeoutMs?: number },
): Promise<Response> {
  const turnId = Number(input.turn);
  if (!Number.isSafeInteger(turnId) || turnId <= 0) throw new AppError('BAD_REQUEST', 'the turn id must be a positive integer', { field: 'turn' });
  const side = ZSide.safeParse(input.side === null ? NaN : Number(input.side));
  if (!side.success) throw new AppError('BAD_REQUEST', 'side must be 0 or 1', { field: 'side' });
  await requireOwnTurn(db, { turnId, annotatorId: input.annotatorId });
  const body = sideEventStream(db, { turnId, side: side.data, annotatorId: input.annotatorId, signal: input.signal, timeoutMs: input.timeoutMs });
  return new Response(body, { headers: SSE_HEADERS });
}
