import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tinyRewardScore } from '../fixtures/make-tiny-reward-model';

/**
 * A stand-in for vLLM over real HTTP on 127.0.0.1, for sampling and scoring:
 *
 * - `POST /v1/chat/completions`, non-streaming, answering `n` choices (at most `maxN`, to play an
 *   API without `n`). The text of choice i comes from `reply` (by default a deterministic
 *   sentence with i times the word "good").
 * - `POST /classify`, vLLM's pooling endpoint of a reward model served with `--runner pooling`:
 *   `{model, messages}` (chat form, one conversation) or `{model, input}` (text or texts), and
 *   `use_activation`. The raw score is the tiny reward model's (word weights over the whole
 *   conversation); with the activation on (vLLM's default) it is squashed by a sigmoid.
 *   Answers `{id, object: "list", created, model, data: [{index, label, probs, num_classes}], usage}`.
 * - `GET /stats`: request counts (for a fake running in another process).
 *
 * Every request can be delayed (`latencyMs`) or failed (`failNext`, `failAll`: a status with an
 * OpenAI-style error body and an optional Retry-After; `hangNext`: no answer at all).
 *
 * Run as a program (`node --import tsx tests/helpers/fake-vllm.ts`), it serves with
 * FAKE_VLLM_LATENCY_MS and prints `{"baseUrl": ...}` on its first line, so a benchmark can keep
 * the fake's work off its own CPU time.
 */

export type TFakeRoute = 'chat' | 'classify';

export interface TFakeVllmRequest {
  route: TFakeRoute;
  authorization: string | null;
  body: Record<string, unknown> & { model?: string; messages?: { role: string; content: string }[]; n?: number };
  /** When the request arrived (ms, Date.now()). */
  at: number;
  /** The status answered (0 while pending or when the client hung up first). */
  status: number;
}

export interface TReplyContext {
  model: string;
  messages: { role: string; content: string }[];
  /** The choice's index within its request. */
  choice: number;
  /** 1-based number of the chat request. */
  request: number;
}

type TFault = { route: TFakeRoute | null; status: number; message: string; retryAfter?: string } | { route: TFakeRoute | null; hang: true };

export interface TFakeVllmOptions {
  latencyMs?: number;
  /** Most choices one chat request answers (default: as many as asked). */
  maxN?: number;
  reply?: (context: TReplyContext) => string;
  /** Keep every request in `requests` (default true; a benchmark turns it off). */
  record?: boolean;
}

export interface TFakeVllm {
  /** The OpenAI-compatible base URL to register, ending in /v1 (/classify lives at the root beside it). */
  baseUrl: string;
  requests: TFakeVllmRequest[];
  counts: { chat: number; classify: number; choices: number };
  /** The next `count` requests (of `route`, or any) answer `status`, with Retry-After when given. */
  failNext(count: number, status: number, options?: { route?: TFakeRoute; retryAfter?: string; message?: string }): void;
  /** Every request (of `route`, or any) answers `status` until clearFaults(). */
  failAll(status: number, options?: { route?: TFakeRoute; message?: string }): void;
  /** The next `count` requests (of `route`, or any) never answer. */
  hangNext(count: number, options?: { route?: TFakeRoute }): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  setMaxN(n: number | undefined): void;
  setReply(reply: (context: TReplyContext) => string): void;
  /** The score /classify gives a conversation (raw, before any activation). */
  scoreOf(messages: { content: string }[]): number;
  close(): Promise<void>;
}

export function defaultReply({ model, messages, choice }: TReplyContext): string {
  const last = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  return `${'good '.repeat(choice)}answer ${choice} of ${model} to: ${last}`.trim();
}

const scoreOf = (messages: { content: string }[]) => messages.reduce((sum, m) => sum + tinyRewardScore(m.content), 0);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export async function startFakeVllm(options: TFakeVllmOptions = {}): Promise<TFakeVllm> {
  const requests: TFakeVllmRequest[] = [];
  const counts = { chat: 0, classify: 0, choices: 0 };
  const once: TFault[] = [];
  const always: TFault[] = [];
  let latencyMs = options.latencyMs ?? 0;
  let maxN = options.maxN;
  let reply = options.reply ?? defaultReply;
  const record = options.record ?? true;
  const sockets = new Set<Socket>();

  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers }).end(text);
  };

  const takeFault = (route: TFakeRoute): TFault | undefined => {
    const at = once.findIndex((f) => f.route === null || f.route === route);
    if (at >= 0) return once.splice(at, 1)[0];
    return always.find((f) => f.route === null || f.route === route);
  };

  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0]!;
    if (req.method === 'GET' && url === '/stats') return json(res, 200, counts);
    const route: TFakeRoute | null = req.method === 'POST' && url === '/v1/chat/completions' ? 'chat' : req.method === 'POST' && url === '/classify' ? 'classify' : null;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!route) return json(res, 404, { error: { message: `no route ${req.method} ${url}`, type: 'NotFoundError', code: 404 } });
      let body: TFakeVllmRequest['body'];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(res, 400, { error: { message: 'invalid JSON body', type: 'BadRequestError', code: 400 } });
      }
      counts[route] += 1;
      const request: TFakeVllmRequest = { route, authorization: req.headers.authorization ?? null, body, at: Date.now(), status: 0 };
      if (record) requests.push(request);
      const number = counts.chat;
      const fault = takeFault(route);
      if (fault && 'hang' in fault) return;
      const respond = () => {
        if (fault) {
          request.status = fault.status;
          return json(
            res,
            fault.status,
            { error: { message: fault.message, type: fault.status === 429 ? 'RateLimitError' : 'InternalServerError', code: fault.status } },
            fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {},
          );
        }
        request.status = 200;
        if (route === 'chat') return answerChat(body, number, res);
        return answerClassify(body, res);
      };
      if (latencyMs > 0) setTimeout(respond, latencyMs);
      else respond();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function answerChat(body: TFakeVllmRequest['body'], number: number, res: http.ServerResponse) {
    if (body.stream) return json(res, 400, { error: { message: 'this fake answers non-streaming requests only', type: 'BadRequestError', code: 400 } });
    const model = body.model ?? 'unknown';
    const messages = body.messages ?? [];
    const asked = typeof body.n === 'number' && body.n >= 1 ? Math.floor(body.n) : 1;
    const n = maxN === undefined ? asked : Math.min(asked, maxN);
    counts.choices += n;
    const choices = Array.from({ length: n }, (_, choice) => ({
      index: choice,
      message: { role: 'assistant', content: reply({ model, messages, choice, request: number }) },
      finish_reason: 'stop',
    }));
    json(res, 200, {
      id: `chatcmpl-fake-${number}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices,
      usage: { prompt_tokens: 1, completion_tokens: n, total_tokens: n + 1 },
    });
  }

  function answerClassify(body: TFakeVllmRequest['body'], res: http.ServerResponse) {
    const texts: { content: string }[][] = Array.isArray(body.messages)
      ? [body.messages]
      : (Array.isArray(body.input) ? (body.input as unknown[]) : [body.input]).map((t) => [{ content: String(t ?? '') }]);
    const raw = body.use_activation === false;
    json(res, 200, {
      id: `classify-fake-${counts.classify}`,
      object: 'list',
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? 'unknown',
      data: texts.map((conversation, index) => {
        const score = scoreOf(conversation);
        return { index, label: 'LABEL_0', probs: [raw ? score : sigmoid(score)], num_classes: 1 };
      }),
      usage: { prompt_tokens: 1, total_tokens: 1, completion_tokens: 0, prompt_tokens_details: null },
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    counts,
    failNext: (count, status, o = {}) =>
      once.push(...Array.from({ length: count }, () => ({ route: o.route ?? null, status, message: o.message ?? `fake failure ${status}`, retryAfter: o.retryAfter }))),
    failAll: (status, o = {}) => always.push({ route: o.route ?? null, status, message: o.message ?? `fake failure ${status}` }),
    hangNext: (count, o = {}) => once.push(...Array.from({ length: count }, () => ({ route: o.route ?? null, hang: true as const }))),
    clearFaults: () => {
      once.length = 0;
      always.length = 0;
    },
    setLatency: (ms) => (latencyMs = ms),
    setMaxN: (n) => (maxN = n),
    setReply: (r) => (reply = r),
    scoreOf,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const fake = await startFakeVllm({ latencyMs: Number(process.env.FAKE_VLLM_LATENCY_MS ?? 0), record: false });
  console.log(JSON.stringify({ baseUrl: fake.baseUrl }));
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
