import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletionsUrl, formatDuration, ModelEndpointError, streamChatCompletion } from '@/server/inference/openai-stream';
import { formatSseEvent, readSseEvents, SseParser, type TSseEvent } from '@/server/live/sse';
import { startFakeOpenAi, type TFakeOpenAi } from '../helpers/fake-openai';

/** Feeds the text in the given pieces and returns every event, the end of the stream included. */
function parse(pieces: string[]): TSseEvent[] {
  const parser = new SseParser();
  return [...pieces.flatMap((p) => parser.push(p)), ...parser.end()];
}

function bytesStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('the server-sent events parser', () => {
  it('reads data lines into events', () => {
    expect(parse(['data: {"a":1}\n\ndata: [DONE]\n\n'])).toEqual([
      { event: 'message', data: '{"a":1}' },
      { event: 'message', data: '[DONE]' },
    ]);
  });

  it('reassembles events split mid-line, mid-field and between CR and LF', () => {
    const text = 'event: delta\r\ndata: {"text":"hello"}\r\n\r\ndata: second\r\n\r\n';
    const whole = parse([text]);
    expect(whole).toEqual([
      { event: 'delta', data: '{"text":"hello"}' },
      { event: 'message', data: 'second' },
    ]);
    // Every possible split point, and one character at a time.
    for (let i = 1; i < text.length; i++) expect(parse([text.slice(0, i), text.slice(i)])).toEqual(whole);
    expect(parse([...text])).toEqual(whole);
  });

  it('ignores comments and keeps the value after a colon without a space', () => {
    expect(parse([': keep-alive\n\n:another\ndata:tight\n: in the middle\ndata:  two spaces\n\n'])).toEqual([{ event: 'message', data: 'tight\n two spaces' }]);
  });

  it('joins several data lines of one event with newlines', () => {
    expect(parse(['data: line one\ndata: line two\ndata:\ndata: line four\n\n'])).toEqual([{ event: 'message', data: 'line one\nline two\n\nline four' }]);
  });

  it('accepts lone CR line endings, fields without a colon, ids and a leading byte-order mark', () => {
    expect(parse(['\uFEFFid: 7\revent: done\rdata\r\r'])).toEqual([{ event: 'done', data: '', id: '7' }]);
  });

  it('dispatches nothing for blank lines without data and resets the event name after each event', () => {
    expect(parse(['\n\nevent: ping\n\ndata: x\n\n'])).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('delivers a last event whose blank line never came, as some model servers end the stream', () => {
    expect(parse(['data: {"a":1}\n\ndata: [DONE]'])).toEqual([
      { event: 'message', data: '{"a":1}' },
      { event: 'message', data: '[DONE]' },
    ]);
  });

  it('decodes UTF-8 characters split across byte chunks', async () => {
    const bytes = new TextEncoder().encode(formatSseEvent('delta', { text: 'héllo 👋 wörld' }));
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    const events = await collect(readSseEvents(bytesStream(chunks)));
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.data)).toEqual({ text: 'héllo 👋 wörld' });
  });

  it('writes events whose text holds newlines as one data line', () => {
    const wire = formatSseEvent('delta', { text: 'a\n\nb' });
    expect(wire.split('\n\n')).toHaveLength(2);
    expect(parse([wire])).toEqual([{ event: 'delta', data: '{"text":"a\\n\\nb"}' }]);
  });
});

describe('streamChatCompletion against a fake endpoint over HTTP', () => {
  let fake: TFakeOpenAi;
  beforeAll(async () => {
    fake = await startFakeOpenAi({ chunkDelayMs: 5 });
  });
  afterAll(async () => {
    await fake.close();
  });

  const endpoint = () => ({ baseUrl: fake.baseUrl, apiModel: 'fake-unit', sampling: { temperature: 0.7, max_tokens: 64 } });

  it('yields the answer in several deltas and sends the model, messages and sampling parameters', async () => {
    const deltas = await collect(streamChatCompletion(endpoint(), [{ role: 'user', content: 'hi there' }], { timeoutMs: 5000 }));
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.join('')).toBe(fake.replyFor('fake-unit', 'hi there'));
    const sent = fake.requests.at(-1)!;
    expect(sent.body).toMatchObject({ model: 'fake-unit', stream: true, temperature: 0.7, max_tokens: 64, messages: [{ role: 'user', content: 'hi there' }] });
    expect(sent.body).not.toHaveProperty('top_p');
    expect(sent.authorization).toBeNull();
  });

  it('turns an error status into a message with the status and the endpoint’s own message', async () => {
    fake.failNext(1, 503, 'overloaded, try later');
    const error = await collect(streamChatCompletion(endpoint(), [{ role: 'user', content: 'x' }], { timeoutMs: 5000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelEndpointError);
    expect((error as ModelEndpointError).message).toBe('The model endpoint answered 503: overloaded, try later');
    expect((error as ModelEndpointError).retryable).toBe(true);
    fake.failNext(1, 400, 'bad request');
    const client = await collect(streamChatCompletion(endpoint(), [{ role: 'user', content: 'x' }], { timeoutMs: 5000 })).catch((e: unknown) => e);
    expect((client as ModelEndpointError).retryable).toBe(false);
  });

  it('times out when no byte comes, and when the stream stalls between chunks', async () => {
    fake.hangNext(1);
    const silent = await collect(streamChatCompletion(endpoint(), [{ role: 'user', content: 'x' }], { timeoutMs: 200 })).catch((e: unknown) => e);
    expect((silent as Error).message).toBe('The model did not answer within 200 ms.');
    fake.stallNext(1);
    const received: string[] = [];
    const stalled = await (async () => {
      for await (const d of streamChatCompletion(endpoint(), [{ role: 'user', content: 'x' }], { timeoutMs: 200 })) received.push(d);
    })().catch((e: unknown) => e);
    expect(received.length).toBe(1);
    expect((stalled as Error).message).toBe('The model stopped answering: nothing came for 200 ms.');
  });

  it('reports an unreachable endpoint clearly, and sends the key from the named variable', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const unreachable = await collect(streamChatCompletion({ ...endpoint(), baseUrl: `http://127.0.0.1:${closedPort}/v1` }, [{ role: 'user', content: 'x' }], { timeoutMs: 2000 })).catch((e: unknown) => e);
    expect((unreachable as Error).message).toMatch(/^Could not reach the model endpoint \(ECONNREFUSED\)/);
    process.env.TEST_UNIT_FAKE_API_KEY = 'sk-unit-secret';
    await collect(streamChatCompletion({ ...endpoint(), apiKeyEnv: 'TEST_UNIT_FAKE_API_KEY' }, [{ role: 'user', content: 'x' }], { timeoutMs: 5000 }));
    expect(fake.requests.at(-1)!.authorization).toBe('Bearer sk-unit-secret');
    const missing = await collect(streamChatCompletion({ ...endpoint(), apiKeyEnv: 'TEST_UNIT_UNSET_API_KEY' }, [{ role: 'user', content: 'x' }], { timeoutMs: 5000 })).catch((e: unknown) => e);
    expect((missing as ModelEndpointError).retryable).toBe(false);
  });

  it('builds the URL from a base with or without a trailing slash, and formats durations', () => {
    expect(chatCompletionsUrl('http://h:8000/v1/')).toBe('http://h:8000/v1/chat/completions');
    expect(chatCompletionsUrl('http://h:8000/v1')).toBe('http://h:8000/v1/chat/completions');
    expect(formatDuration(60_000)).toBe('60 s');
    expect(formatDuration(1500)).toBe('1.5 s');
  });
});
