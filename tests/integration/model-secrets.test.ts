import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models } from '@/db/schema';
import { chatSamples } from '@/server/inference/chat-client';
import { streamChatCompletion } from '@/server/inference/openai-stream';
import { listModels } from '@/server/models/models';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, makeUser } from '../helpers/factories';
import { startFakeOpenAi, type TFakeOpenAi } from '../helpers/fake-openai';

const db = setupTestDatabase();
let fake: TFakeOpenAi;
const saved = { AUTH_SECRET: process.env.AUTH_SECRET, TEST_MODEL_API_KEY: process.env.TEST_MODEL_API_KEY };

beforeAll(async () => {
  fake = await startFakeOpenAi();
  process.env.AUTH_SECRET = 'the-session-signing-key';
  process.env.TEST_MODEL_API_KEY = 'sk-test';
});

afterAll(async () => {
  await fake.close();
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

describe('model API key variables', () => {
  it('refuse Pairwise’s own settings and the worker’s credentials, naming the field', async () => {
    const admin = callerFor(db.current.handle, db.current.url, await makeUser(db.current.handle, 'admin'));
    for (const name of ['AUTH_SECRET', 'DATABASE_URL', 'PAIRWISE_S3_BUCKET', 'NEXTAUTH_SECRET', 'AWS_SECRET_ACCESS_KEY']) {
      await expect(admin.models.register({ name: `m-${name}`, kind: 'policy', serving: 'openai', baseUrl: fake.baseUrl, apiModel: 'x', apiKeyEnv: name })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/apiKeyEnv.*never sent to a model endpoint/s),
      });
    }
    const ok = await admin.models.register({ name: 'm-ok', kind: 'policy', serving: 'openai', baseUrl: fake.baseUrl, apiModel: 'x', apiKeyEnv: 'TEST_MODEL_API_KEY' });
    expect(ok).toMatchObject({ apiKeyEnv: 'TEST_MODEL_API_KEY', keyConfigured: true });
  });

  it('never read a forbidden variable for a row written before the rule, nor say whether it is set', async () => {
    const { handle } = db.current;
    await handle.db.insert(models).values({ name: 'legacy', kind: 'policy', serving: 'openai', baseUrl: fake.baseUrl, apiModel: 'x', apiKeyEnv: 'AUTH_SECRET' });
    const legacy = (await listModels(handle.db)).find((m) => m.name === 'legacy')!;
    expect(legacy.keyConfigured).toBe(false);
    const before = fake.requests.length;
    await expect(chatSamples({ name: 'legacy', baseUrl: fake.baseUrl, apiModel: 'x', apiKeyEnv: 'AUTH_SECRET' }, [{ role: 'user', content: 'hi' }], { n: 1 })).rejects.toThrow(/AUTH_SECRET .*never sent/);
    const stream = streamChatCompletion({ baseUrl: fake.baseUrl, apiModel: 'x', apiKeyEnv: 'AUTH_SECRET', sampling: {} }, [{ role: 'user', content: 'hi' }], { timeoutMs: 5000 });
    await expect((async () => {
      for await (const chunk of stream) void chunk;
    })()).rejects.toThrow(/AUTH_SECRET .*never sent/);
    // Nothing reached the listener, so no key went out.
    expect(fake.requests.slice(before)).toEqual([]);
    expect(JSON.stringify(fake.requests)).not.toContain('the-session-signing-key');
  });
});
