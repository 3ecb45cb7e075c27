import { TRPCError } from '@trpc/server';
import { fetchRequestHandler, type FetchCreateContextFn, type FetchHandlerRequestOptions } from '@trpc/server/adapters/fetch';
import { env } from './env';
import type { TAppRouter } from './root';
import { TRPC_MAX_BATCH_CALLS } from './trpc-batch-limit';

export interface TTrpcLimits {
  maxBodyBytes: number;
  maxBatchCalls: number;
}

/**
 * The largest /api/trpc body: PAIRWISE_MAX_TRPC_BODY_BYTES, else room for two messages of
 * PAIRWISE_MAX_MESSAGE_BYTES (a submit carries an edited response; JSON escapes can grow text)
 * and 1 MiB for everything else in the batch.
 */
export function trpcLimits(): TTrpcLimits {
  const e = env();
  return { maxBodyBytes: e.PAIRWISE_MAX_TRPC_BODY_BYTES ?? 2 * e.PAIRWISE_MAX_MESSAGE_BYTES + 1024 * 1024, maxBatchCalls: TRPC_MAX_BATCH_CALLS };
}

/**
 * Checks a request against the limits before tRPC parses it or a session is looked up. The number
 * of calls comes from the path; a body is refused on its Content-Length without being read, and
 * otherwise counted while it streams in, so an oversized body is never held whole. Returns the
 * request to serve (the body, once read, travels as bytes) or the refusal.
 */
export async function admitTrpcRequest(req: Request, endpoint: string, limits: TTrpcLimits): Promise<{ req: Request; refusal: TRPCError | null }> {
  const url = new URL(req.url);
  if (url.searchParams.get('batch') === '1') {
    const calls = url.pathname.slice(endpoint.length + 1).split(',').length;
    if (calls > limits.maxBatchCalls) {
      return { req, refusal: new TRPCError({ code: 'BAD_REQUEST', message: `a batch holds at most ${limits.maxBatchCalls} calls; this one has ${calls}` }) };
    }
  }
  if (!req.body) return { req, refusal: null };

  const tooLarge = () => new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `the request body is larger than ${limits.maxBodyBytes} bytes` });
  const declared = Number(req.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
    await req.body.cancel().catch(() => {});
    return { req, refusal: tooLarge() };
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limits.maxBodyBytes) {
      await reader.cancel().catch(() => {});
      return { req, refusal: tooLarge() };
    }
    chunks.push(value);
  }
  const body = Buffer.concat(chunks);
  return { req: new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal }), refusal: null };
}

type TServeOptions = Omit<FetchHandlerRequestOptions<TAppRouter>, 'createContext' | 'maxBatchSize'> & {
  createContext: FetchCreateContextFn<TAppRouter>;
  limits?: TTrpcLimits;
};

/**
 * /api/trpc with its limits. A refused request is answered by tRPC itself (a context that throws),
 * so clients get the usual error shape and status (413, or 400 for too many calls), and no
 * procedure, session lookup or body parse runs.
 */
export async function serveTrpc(options: TServeOptions): Promise<Response> {
  const { limits = trpcLimits(), createContext, req: incoming, ...rest } = options;
  const { req, refusal } = await admitTrpcRequest(incoming, rest.endpoint, limits);
  return fetchRequestHandler<TAppRouter>({
    ...rest,
    req,
    createContext: refusal
      ? () => {
          throw refusal;
        }
      : createContext,
  });
}
