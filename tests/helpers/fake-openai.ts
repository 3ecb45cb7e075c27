import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the fake received it. */
export interface TFakeRequest {
  method: string;
  path: string;
  authorization: string | null;
  /** Set once the whole answer was sent; stays false when the client hung up first. */
  completed: boolean;
  body: {
    model?: string;
    stream?: boolean;
    messages?: { role: string; content: string }[];
    temperature?: number;
    top_p?: number;
    max_tokens?: number;
    [key: string]: unknown;
  };
}

type TFault = { kind: 'status'; status: number; message: string } | { kind: 'hang' } | { kind: 'stall' };

export interface TFakeOpenAi {
  /** The base URL to register, ending in /v1. */
  baseUrl: string;
  requests: TFakeRequest[];
  /** The answer the fake gives `model` for `lastUserMessage`, as the client should assemble it. */
  replyFor(model: string, lastUserMessage: string): string;
  /** The next `count` chat requests answer `status` with an OpenAI-style error body. */
  failNext(count: number, status: number, message?: string): void;
  /** The next `count` chat requests never answer (not even headers). */
  hangNext(count: number): void;
  /** The next `count` chat requests send their first chunk, then nothing more. */
  stallNext(count: number): void;
  /** Pause between chunks (ms). */
  setChunkDelay(ms: number): void;
  close(): Promise<void>;
}

/**
 * A stand-in for a model server (vLLM, an OpenAI-style API) speaking the real protocol over
 * real HTTP on 127.0.0.1: POST /v1/chat/completions, streamed as server-sent
 * `chat.completion.chunk` events ending with `data: [DONE]`, or one JSON completion when
 * `stream` is false. Answers are deterministic ("[model] reply to: <last user message>") and
 * come in several chunks with small delays, so streaming is observable.
 */
export async function startFakeOpenAi(options: { chunkDelayMs?: number } = {}): Promise<TFakeOpenAi> {
  const requests: TFakeRequest[] = [];
  const faults: TFault[] = [];
  let chunkDelayMs = options.chunkDelayMs ?? 15;
  const sockets = new Set<Socket>();
  const replyFor = (model: string, last: string) => `[${model}] reply to: ${last}`;

  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      if (req.method !== 'POST' || path !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } }));
        return;
      }
      let body: TFakeRequest['body'];
      try {
        body = JSON.parse(raw);
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'invalid JSON body', type: 'invalid_request_error' } }));
        return;
      }
      const request: TFakeRequest = { method: req.method, path, authorization: req.headers.authorization ?? null, completed: false, body };
      requests.push(request);
      void answer(body, res, faults.shift()).then((sent) => (request.completed = sent));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  /** Answers one request; resolves true when the whole answer was sent. */
  async function answer(body: TFakeRequest['body'], res: http.ServerResponse, fault: TFault | undefined): Promise<boolean> {
    if (fault?.kind === 'hang') return false; // the socket stays open until the client gives up
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: fault.message, type: fault.status === 429 ? 'rate_limit_error' : 'server_error', code: fault.status } }));
      return true;
    }
    const model = body.model ?? 'unknown';
    const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
    const text = replyFor(model, last);
    const id = `chatcmpl-fake-${requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
      return true;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    // A comment first, as some hosted APIs send while they queue the request.
    res.write(': processing\n\n');
    res.write(chunk({ role: 'assistant', content: '' }));
    const pieces = splitInto(text, 5);
    for (const [i, piece] of pieces.entries()) {
      if (res.destroyed) return false;
      res.write(chunk({ content: piece }));
      if (fault?.kind === 'stall' && i === 0) return false;
      await sleep(chunkDelayMs);
    }
    if (res.destroyed) return false;
    res.write(chunk({}, 'stop'));
    res.end('data: [DONE]\n\n');
    return true;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    replyFor,
    failNext: (count, status, message = `fake failure ${status}`) => faults.push(...Array.from({ length: count }, () => ({ kind: 'status' as const, status, message }))),
    hangNext: (count) => faults.push(...Array.from({ length: count }, () => ({ kind: 'hang' as const }))),
    stallNext: (count) => faults.push(...Array.from({ length: count }, () => ({ kind: 'stall' as const }))),
    setChunkDelay: (ms) => (chunkDelayMs = ms),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function splitInto(text: string, parts: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / parts));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
