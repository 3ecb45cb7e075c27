import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { chatSamples, effectiveSampling, type TChatModel } from '@/server/inference/chat-client';
import { loadOnnxRewardModel, roleLines } from '@/server/inference/onnx-reward';
import { classifyUrl, scoreResponses, type TRewardModel } from '@/server/inference/reward-client';
import { makeTinyRewardModel, TINY_CHAT_TEMPLATE, tinyRewardScore } from '../fixtures/make-tiny-reward-model';
import { defaultReply, startFakeVllm, type TFakeVllm } from '../helpers/fake-vllm';

let fake: TFakeVllm;
let policy: TChatModel;
let reward: TRewardModel;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-sampling-clients-'));
const fast = { baseDelayMs: 5, maxDelayMs: 20 };
const prompt: TMessage[] = [{ role: 'user', content: 'say something' }];

beforeAll(async () => {
  fake = await startFakeVllm();
  policy = { name: 'pol', baseUrl: fake.baseUrl, apiModel: 'pol-api', sampling: { temperature: 1, top_p: 0.9 } };
  reward = { name: 'rm', serving: 'vllm-classify', baseUrl: fake.baseUrl, apiModel: 'rm-api' };
});

afterAll(async () => {
  await fake.close();
  fs.rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  fake.clearFaults();
  fake.setMaxN(undefined);
  fake.setReply(defaultReply);
  fake.setLatency(0);
});

const since = (before: number) => fake.requests.slice(before);

describe('chatSamples', () => {
  it('asks for n samples in one request with the merged sampling parameters', async () => {
    const before = fake.requests.length;
    const samples = await chatSamples(policy, prompt, { n: 3, sampling: { top_p: 0.5, max_tokens: 10 } });
    expect(samples.map((s) => s.message.content)).toEqual([0, 1, 2].map((choice) => defaultReply({ model: 'pol-api', messages: prompt, choice, request: 0 })));
    expect(samples.every((s) => s.finishReason === 'stop' && s.message.role === 'assistant')).toBe(true);
    expect(since(before).map((r) => r.body)).toEqual([{ model: 'pol-api', messages: prompt, stream: false, temperature: 1, top_p: 0.5, max_tokens: 10, n: 3 }]);
    expect(effectiveSampling({ temperature: 1 }, { temperature: undefined, max_tokens: 5 })).toEqual({ temperature: 1, max_tokens: 5 });
  });

  it('falls back to more requests when the endpoint answers fewer choices than asked', async () => {
    fake.setMaxN(2);
    const before = fake.requests.length;
    const samples = await chatSamples(policy, prompt, { n: 5 });
    expect(samples).toHaveLength(5);
    expect(since(before).map((r) => r.body.n ?? 1)).toEqual([5, 2, 1]);
    fake.setMaxN(1);
    const again = fake.requests.length;
    expect(await chatSamples(policy, prompt, { n: 3 })).toHaveLength(3);
    expect(since(again).map((r) => r.body.n ?? 1)).toEqual([3, 1, 1]);
  });

  it('retries 429 and 5xx, honours Retry-After, and gives up after maxRetries with the reason', async () => {
    fake.failNext(1, 429, { retryAfter: '0.3' });
    fake.failNext(1, 502);
    const before = fake.requests.length;
    const retries: number[] = [];
    expect(await chatSamples(policy, prompt, { policy: fast, onRetry: ({ delayMs }) => retries.push(delayMs) })).toHaveLength(1);
    const sent = since(before);
    expect(sent.map((r) => r.status)).toEqual([429, 502, 200]);
    expect(retries[0]).toBeGreaterThanOrEqual(300);
    expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(290);

    fake.failAll(500, { message: 'boom' });
    await expect(chatSamples(policy, prompt, { policy: { ...fast, maxRetries: 2 } })).rejects.toThrow('policy pol: the endpoint answered 500: boom (gave up after 3 attempts)');
  });

  it('does not retry a request the server refuses (4xx), and says why', async () => {
    fake.failNext(1, 400, { message: 'max_tokens is too large' });
    const before = fake.requests.length;
    await expect(chatSamples(policy, prompt, { policy: fast })).rejects.toThrow(/^policy pol: the endpoint answered 400: max_tokens is too large$/);
    expect(since(before)).toHaveLength(1);
  });

  it('times out a request that never answers and retries it', async () => {
    fake.hangNext(1);
    const before = fake.requests.length;
    const started = Date.now();
    expect(await chatSamples(policy, prompt, { policy: { ...fast, timeoutMs: 200 } })).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(since(before)).toHaveLength(2);
    fake.hangNext(5);
    await expect(chatSamples(policy, prompt, { policy: { ...fast, timeoutMs: 100, maxRetries: 1 } })).rejects.toThrow('policy pol: no complete answer within 100 ms (gave up after 2 attempts)');
    fake.clearFaults();
  });

  it('stops at once when its signal aborts, even while backing off', async () => {
    fake.failNext(1, 429, { retryAfter: '30' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop now')), 100);
    const started = Date.now();
    await expect(chatSamples(policy, prompt, { signal: controller.signal })).rejects.toThrow('stop now');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('sends the key from the named environment variable, and never stores or shows it', async () => {
    process.env.TEST_SAMPLING_API_KEY = 'sk-secret-value';
    const before = fake.requests.length;
    await chatSamples({ ...policy, apiKeyEnv: 'TEST_SAMPLING_API_KEY' }, prompt);
    expect(since(before)[0]!.authorization).toBe('Bearer sk-secret-value');
    fake.failNext(1, 401, { message: 'bad key sk-secret-value' });
    await expect(chatSamples({ ...policy, apiKeyEnv: 'TEST_SAMPLING_API_KEY' }, prompt)).rejects.toThrow('policy pol: the endpoint answered 401: bad key [redacted]');
    delete process.env.TEST_SAMPLING_API_KEY;
    await expect(chatSamples({ ...policy, apiKeyEnv: 'TEST_SAMPLING_API_KEY' }, prompt)).rejects.toThrow('environment variable TEST_SAMPLING_API_KEY is not set');
  });
});

describe('scoreResponses', () => {
  it('asks vLLM /classify at the server root for raw scores, in the chat form', async () => {
    expect(classifyUrl('http://gpu:8000/v1/')).toBe('http://gpu:8000/classify');
    expect(classifyUrl('http://gpu:8000')).toBe('http://gpu:8000/classify');
    const before = fake.requests.length;
    const answers = ['good', 'bad bad', 'the best and good'];
    const scores = await scoreResponses(
      reward,
      answers.map((content) => ({ prompt, response: [{ role: 'assistant', content }] })),
    );
    expect(scores).toEqual([1, -4, 4]);
    const sent = since(before);
    expect(sent).toHaveLength(3);
    expect(sent[0]!.body).toEqual({ model: 'rm-api', messages: [...prompt, { role: 'assistant', content: 'good' }], use_activation: false });
  });

  it('refuses a classifier with more than one class, and models not served for scoring', async () => {
    const server = (await import('node:http')).createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ index: 0, label: 'x', probs: [0.2, 0.8], num_classes: 2 }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await expect(scoreResponses({ ...reward, baseUrl: `http://127.0.0.1:${port}/v1` }, [{ prompt, response: [{ role: 'assistant', content: 'x' }] }])).rejects.toThrow(
      'reward model rm: a reward model has one output, this one gives 2 classes',
    );
    server.close();
    await expect(scoreResponses({ ...reward, serving: 'openai' }, [{ prompt, response: [] }])).rejects.toThrow('serving is openai; scoring needs vllm-classify or onnx-local');
  });

  it('scores with a local ONNX model, rendering chats with the tokenizer’s template when it has one', async () => {
    const plain = makeTinyRewardModel(path.join(root, 'plain')).folder;
    const templated = makeTinyRewardModel(path.join(root, 'templated'), { chatTemplate: TINY_CHAT_TEMPLATE }).folder;
    const items = ['good', 'best best', 'bad'].map((content) => ({ prompt, response: [{ role: 'assistant' as const, content }] }));
    for (const folder of [plain, templated]) {
      expect(await scoreResponses({ ...reward, serving: 'onnx-local', artifactUri: folder }, items)).toEqual([1, 6, -2]);
    }
    expect((await loadOnnxRewardModel(plain, 'x')).rendering).toBe('role-lines');
    expect((await loadOnnxRewardModel(templated, 'x')).rendering).toBe('chat-template');
    expect(roleLines([...prompt, { role: 'assistant', content: 'ok' }])).toBe('user: say something\nassistant: ok');
    expect(tinyRewardScore('Good, better, BEST; bad.')).toBe(4);
    await expect(scoreResponses({ ...reward, serving: 'onnx-local', artifactUri: 's3://bucket/rm' }, items)).rejects.toThrow('load from a local folder');
    await expect(scoreResponses({ ...reward, serving: 'onnx-local', artifactUri: path.join(root, 'missing') }, items)).rejects.toThrow(/config\.json is missing/);
  });
});
