import { TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { generateSide } from '@/server/live/generate-side';
import { liveSideResponse } from '@/server/live/side-events';
import { readSseEvents } from '@/server/live/sse';
import { setProjectModels } from '@/server/models/models';
import { updateProject, type TProject } from '@/server/projects/projects';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { resolveHandle } from '../helpers/handles';
import { callerFor, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { runCli } from '../helpers/cli';
import { startFakeOpenAi, type TFakeOpenAi } from '../helpers/fake-openai';
import { refusalCode as refusal } from '../helpers/refusal';

const db = setupTestDatabase();
const KEY = 'sk-live-test-0123456789-secret';
const ALPHA = { name: 'alpha-registry-secret', apiModel: 'fake-alpha', apiKeyEnv: 'TEST_ALPHA_API_KEY', sampling: { temperature: 0.3, top_p: 0.9, max_tokens: 300 } };
const BRAVO = { name: 'bravo-registry-secret', apiModel: 'fake-bravo', sampling: { temperature: 1.2 } };

let fake: TFakeOpenAi;
let project: TProject;
let annotator: TSessionUser;
let other: TSessionUser;
let admin: TSessionUser;
let modelIds: number[];

const caller = (user: TSessionUser) => callerFor(db.current.handle, db.current.url, user);

interface TStreamResult {
  deltas: string[];
  text: string;
  done: boolean;
  error: { message: string; retryable: boolean } | null;
}

/** What the browser gets from GET /api/live/turns/{turn}/stream?side=…, read as events. */
async function streamSide(user: TSessionUser, turnId: number, side: number, options: { timeoutMs?: number; signal?: AbortSignal; onDelta?: (text: string) => void } = {}): Promise<TStreamResult> {
  const response = await liveSideResponse(db.current.handle.db, { annotatorId: user.id, turn: String(turnId), side: String(side), timeoutMs: options.timeoutMs ?? 5000, signal: options.signal });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const result: TStreamResult = { deltas: [], text: '', done: false, error: null };
  for await (const event of readSseEvents(response.body!)) {
    const data = JSON.parse(event.data);
    if (event.event === 'delta') {
      result.deltas.push(data.text);
      options.onDelta?.(data.text);
    } else if (event.event === 'done') result.done = true;
    else if (event.event === 'error') result.error = data;
  }
  result.text = result.deltas.join('');
  return result;
}

async function turnRow(turnId: number) {
  const [row] = await db.current.handle.db.execute<{ model_ids: string[]; response_ids: (string | null)[]; comparison_id: string | null; prompt: TMessage[] }>(sql`
    select t.model_ids, to_json(t.response_ids) as response_ids, t.comparison_id, p.messages as prompt from live_turns t join prompts p on p.id = t.prompt_id where t.id = ${turnId}`);
  return {
    modelIds: row!.model_ids.map(Number),
    responseIds: row!.response_ids.map((id) => (id === null ? null : Number(id))),
    comparisonId: row!.comparison_id === null ? null : Number(row!.comparison_id),
    prompt: row!.prompt,
  };
}

/** The registry entry that answers a side (tests may know; annotators never do). */
async function sideModel(turnId: number, side: number) {
  const id = (await turnRow(turnId)).modelIds[side];
  return [ALPHA, BRAVO][modelIds.indexOf(id!)]!;
}

/** A turn with both sides streamed and its comparison leased to the annotator. */
async function answeredTurn(user: TSessionUser, message: string, parentTurnId?: number) {
  const { turnId } = await caller(user).live.startTurn({ project: project.slug, message, parentTurnId });
  const sides = await Promise.all([streamSide(user, turnId, 0), streamSide(user, turnId, 1)]);
  const item = await caller(user).live.finalizeTurn({ turnId });
  return { turnId, sides, item };
}

beforeAll(async () => {
  process.env[ALPHA.apiKeyEnv] = KEY;
  fake = await startFakeOpenAi({ chunkDelayMs: 5 });
  const { handle } = db.current;
  [annotator, other, admin] = await Promise.all([makeUser(handle, 'annotator'), makeUser(handle, 'annotator'), makeUser(handle, 'admin')]);
  project = await makeProject(handle, { members: [{ user: annotator, role: 'annotator' }, { user: other, role: 'annotator' }] });
  project = await updateProject(handle.db, project.id, { live: true });
  const alpha = await caller(admin).models.register({ ...ALPHA, baseUrl: fake.baseUrl });
  const bravo = await caller(admin).models.register({ ...BRAVO, baseUrl: `${fake.baseUrl}/` });
  modelIds = [alpha.id, bravo.id];
  await caller(admin).models.setForProject({ project: project.slug, modelIds });
});

afterAll(async () => {
  await fake?.close();
  await stopSharedQueue();
  delete process.env[ALPHA.apiKeyEnv];
});

describe('the model registry', () => {
  it('lets platform admins register and list models, and keeps everyone else out', async () => {
    const list = await caller(admin).models.list();
    expect(list.map((m) => m.name)).toEqual([ALPHA.name, BRAVO.name]);
    expect(list[0]).toMatchObject({ apiModel: 'fake-alpha', apiKeyEnv: ALPHA.apiKeyEnv, keyConfigured: true, sampling: ALPHA.sampling, enabled: true });
    expect(await refusal(caller(annotator).models.list())).toBe('FORBIDDEN');
    expect(await refusal(caller(annotator).models.register({ ...BRAVO, name: 'x', baseUrl: fake.baseUrl }))).toBe('FORBIDDEN');
    expect(await refusal(caller(annotator).models.forProject({ project: project.slug }))).toBe('FORBIDDEN');
    expect(await refusal(caller(annotator).models.setForProject({ project: project.slug, modelIds: [] }))).toBe('FORBIDDEN');
    const forProject = await caller(admin).models.forProject({ project: project.slug });
    expect(forProject.filter((m) => m.selected).map((m) => m.name)).toEqual([ALPHA.name, BRAVO.name]);
  });

  it('rejects bad registrations with the field and the reason', async () => {
    const bad = async (input: Record<string, unknown>) => {
      const error = await caller(admin)
        .models.register({ name: 'bad', baseUrl: fake.baseUrl, apiModel: 'm', ...input } as never)
        .then(
          () => null,
          (e: TRPCError) => e,
        );
      expect(error?.code).toBe('BAD_REQUEST');
      // Through a caller the zod issues are on the cause; over HTTP the error formatter words them the same way.
      const issue = (error!.cause as unknown as { issues: { path: string[]; message: string }[] }).issues[0]!;
      return `${issue.path.join('.')}: ${issue.message}`;
    };
    expect(await bad({ apiKeyEnv: 'sk-abc123' })).toMatch(/^apiKeyEnv: must be an environment variable name/);
    expect(await bad({ baseUrl: 'ftp://host/v1' })).toMatch(/^baseUrl: must be an http or https URL/);
    expect(await bad({ baseUrl: 'not a url' })).toMatch(/^baseUrl: /);
    expect(await bad({ sampling: { temperature: 3 } })).toMatch(/^sampling\.temperature: /);
    expect(await bad({ sampling: { max_tokens: 0 } })).toMatch(/^sampling\.max_tokens: /);
    expect(await refusal(caller(admin).models.register({ ...BRAVO, baseUrl: fake.baseUrl }))).toBe('CONFLICT');
    expect(await refusal(caller(admin).models.setForProject({ project: project.slug, modelIds: [999_999] }))).toBe('BAD_REQUEST');
  });
});

describe('a live turn', () => {
  it('streams two different models side by side and stores each answer with its model and sampling', async () => {
    const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: 'What is a reward model?' });
    const before = fake.requests.length;
    const [a, b] = await Promise.all([streamSide(annotator, turnId, 0), streamSide(annotator, turnId, 1)]);
    for (const side of [a, b]) {
      expect(side.error).toBeNull();
      expect(side.done).toBe(true);
      expect(side.deltas.length).toBeGreaterThan(2);
    }
    const [m0, m1] = [await sideModel(turnId, 0), await sideModel(turnId, 1)];
    expect(m0.name).not.toBe(m1.name);
    expect(a.text).toBe(fake.replyFor(m0.apiModel, 'What is a reward model?'));
    expect(b.text).toBe(fake.replyFor(m1.apiModel, 'What is a reward model?'));

    // What the endpoints received: the prompt, the model's sampling parameters, the key only where configured.
    const sent = fake.requests.slice(before);
    expect(sent).toHaveLength(2);
    const alphaRequest = sent.find((r) => r.body.model === 'fake-alpha')!;
    const bravoRequest = sent.find((r) => r.body.model === 'fake-bravo')!;
    expect(alphaRequest.body).toMatchObject({ stream: true, ...ALPHA.sampling, messages: [{ role: 'user', content: 'What is a reward model?' }] });
    expect(alphaRequest.authorization).toBe(`Bearer ${KEY}`);
    expect(bravoRequest.body).toMatchObject({ temperature: 1.2 });
    expect(bravoRequest.body).not.toHaveProperty('top_p');
    expect(bravoRequest.authorization).toBeNull();

    const row = await turnRow(turnId);
    const stored = await db.current.handle.db.execute<{ id: string; model: string; origin: string; sampling: unknown; messages: TMessage[] }>(sql`
      select id, model, origin, sampling, messages from responses where id = any(${`{${row.responseIds.join(',')}}`}::bigint[])`);
    const byModel = Object.fromEntries(stored.map((r) => [r.model, r]));
    expect(byModel[ALPHA.name]).toMatchObject({ origin: 'model', sampling: ALPHA.sampling, messages: [{ role: 'assistant', content: fake.replyFor('fake-alpha', 'What is a reward model?') }] });
    expect(byModel[BRAVO.name]).toMatchObject({ origin: 'model', sampling: BRAVO.sampling });

    const item = await caller(annotator).live.finalizeTurn({ turnId });
    expect(item.prompt).toEqual([{ role: 'user', content: 'What is a reward model?' }]);
    expect(item.responses.map((r) => r.messages[0]!.content)).toEqual([a.text, b.text]);
    const [comparison] = await db.current.handle.db.execute<{ judgments_required: number; metadata: unknown; responses: string[] }>(sql`
      select c.judgments_required, c.metadata, array(select response_id::text from comparison_responses where comparison_id = c.id order by position) as responses
      from comparisons c where c.id = ${(await resolveHandle(db.current.handle, item.handle, annotator.id)).comparisonId}`);
    expect(comparison).toMatchObject({ judgments_required: 1, metadata: { live: true, turn_id: turnId } });
    expect(comparison!.responses.map(Number)).toEqual(row.responseIds);
    // Idempotent: the same comparison and assignment (so the same handle) again.
    const again = await caller(annotator).live.finalizeTurn({ turnId });
    expect(again.handle).toBe(item.handle);
  });

  it('uses both models over many turns and never the same one twice in a turn', async () => {
    const pairs = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: `draw ${i}` });
      const { modelIds: ids } = await turnRow(turnId);
      expect(new Set(ids).size).toBe(2);
      pairs.add(ids.join(','));
    }
    // Which model streams as side 0 (and is shown as Response A) is random.
    expect(pairs.size).toBe(2);
  });

  it('continues the conversation on top of the edited response, or the chosen one', async () => {
    const first = await answeredTurn(annotator, 'Name a prime.');
    await caller(annotator).annotation.submit({
      handle: first.item.handle,
      clientSubmissionId: crypto.randomUUID(),
      chosenPosition: 1,
      strength: 'better',
      edit: 'Seven is prime.',
      timeSpentMs: 1000,
    });
    const session = await caller(annotator).live.session({ project: project.slug });
    expect(session.pending).toBeNull();
    expect(session.continuesTurnId).toBe(first.turnId);
    expect(session.conversation).toEqual([
      { role: 'user', content: 'Name a prime.' },
      { role: 'assistant', content: 'Seven is prime.' },
    ]);

    const before = fake.requests.length;
    const second = await answeredTurn(annotator, 'And another?', first.turnId);
    const expectedPrompt = [
      { role: 'user', content: 'Name a prime.' },
      { role: 'assistant', content: 'Seven is prime.' },
      { role: 'user', content: 'And another?' },
    ];
    expect(second.item.prompt).toEqual(expectedPrompt);
    for (const request of fake.requests.slice(before)) expect(request.body.messages).toEqual(expectedPrompt);

    // Without an edit the chosen response carries on.
    await caller(annotator).annotation.submit({ handle: second.item.handle, clientSubmissionId: crypto.randomUUID(), chosenPosition: 0, strength: 'slightly_better', timeSpentMs: 500 });
    const { turnId: third } = await caller(annotator).live.startTurn({ project: project.slug, message: 'Thanks.', parentTurnId: second.turnId });
    expect((await turnRow(third)).prompt).toEqual([...expectedPrompt, second.item.responses[0]!.messages[0], { role: 'user', content: 'Thanks.' }]);
  });

  it('resumes after a reload: the pending turn, then stored answers come back without asking the models again', async () => {
    const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: 'Resume me' });
    const session = await caller(annotator).live.session({ project: project.slug });
    expect(session.pending).toEqual({ turnId, prompt: [{ role: 'user', content: 'Resume me' }] });
    const first = await streamSide(annotator, turnId, 0);
    const requests = fake.requests.length;
    const replay = await streamSide(annotator, turnId, 0);
    expect(replay).toMatchObject({ done: true, error: null, text: first.text });
    expect(replay.deltas).toHaveLength(1);
    expect(fake.requests.length).toBe(requests);
  });

  it('refuses what does not fit: not judged yet, not both answered, not a live project, too few models', async () => {
    const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: 'Pending' });
    expect(await refusal(caller(annotator).live.startTurn({ project: project.slug, message: 'next', parentTurnId: turnId }))).toBe('CONFLICT');
    expect(await refusal(caller(annotator).live.finalizeTurn({ turnId }))).toBe('CONFLICT');
    expect(await refusal(caller(annotator).live.startTurn({ project: project.slug, message: '   ' }))).toBe('BAD_REQUEST');

    const plain = await makeProject(db.current.handle, { members: [{ user: annotator, role: 'annotator' }] });
    expect(await refusal(caller(annotator).live.startTurn({ project: plain.slug, message: 'hi' }))).toBe('BAD_REQUEST');
    await updateProject(db.current.handle.db, plain.id, { live: true });
    await setProjectModels(db.current.handle.db, { projectId: plain.id, modelIds: [modelIds[0]!] });
    const error = await caller(annotator)
      .live.startTurn({ project: plain.slug, message: 'hi' })
      .catch((e: TRPCError) => e);
    expect(error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('at least two enabled models') });
    // A disabled model does not count.
    await setProjectModels(db.current.handle.db, { projectId: plain.id, modelIds });
    await db.current.handle.db.execute(sql`update models set enabled = false where id = ${modelIds[1]!}`);
    expect(await refusal(caller(annotator).live.startTurn({ project: plain.slug, message: 'hi' }))).toBe('CONFLICT');
    await db.current.handle.db.execute(sql`update models set enabled = true where id = ${modelIds[1]!}`);
  });

  it('never offers a live turn’s comparison to other annotators through the queue, even after its lease expired', async () => {
    const mine = await answeredTurn(annotator, 'Only for me to judge');
    const { assignmentId, comparisonId } = await resolveHandle(db.current.handle, mine.item.handle, annotator.id);
    await db.current.handle.db.execute(sql`update assignments set expires_at = now() - interval '1 second' where id = ${assignmentId}`);
    const offered = await caller(other).annotation.lease({ project: project.slug, want: 5 });
    const offeredComparisons = await Promise.all(offered.items.map(async (i) => (await resolveHandle(db.current.handle, i.handle, other.id)).comparisonId));
    expect(offeredComparisons).not.toContain(comparisonId);
  });

  it('keeps each annotator’s turns to themselves', async () => {
    const mine = await answeredTurn(annotator, 'Mine only');
    await caller(annotator).annotation.submit({ handle: mine.item.handle, clientSubmissionId: crypto.randomUUID(), chosenPosition: 0, strength: 'better', timeSpentMs: 1 });
    const requests = fake.requests.length;
    expect(await refusal(liveSideResponse(db.current.handle.db, { annotatorId: other.id, turn: String(mine.turnId), side: '0' }))).toBe('NOT_FOUND');
    expect(await refusal(caller(other).live.finalizeTurn({ turnId: mine.turnId }))).toBe('NOT_FOUND');
    expect(await refusal(caller(other).live.startTurn({ project: project.slug, message: 'hijack', parentTurnId: mine.turnId }))).toBe('NOT_FOUND');
    expect(await refusal(caller(other).annotation.submit({ handle: mine.item.handle, clientSubmissionId: crypto.randomUUID(), chosenPosition: 0, strength: 'better', timeSpentMs: 1 }))).toBe('NOT_FOUND');
    const outsider = await makeUser(db.current.handle);
    expect(await refusal(caller(outsider).live.startTurn({ project: project.slug, message: 'hi' }))).toBe('NOT_FOUND');
    expect(await refusal(caller(outsider).live.session({ project: project.slug }))).toBe('NOT_FOUND');
    expect(fake.requests.length).toBe(requests);
    // The other annotator's session knows nothing of it.
    expect(await caller(other).live.session({ project: project.slug })).toEqual({ conversation: [], continuesTurnId: null, pending: null });
    // Bad parameters are a 400 before anything streams.
    expect(await refusal(liveSideResponse(db.current.handle.db, { annotatorId: annotator.id, turn: String(mine.turnId), side: '2' }))).toBe('BAD_REQUEST');
    expect(await refusal(liveSideResponse(db.current.handle.db, { annotatorId: annotator.id, turn: 'abc', side: '0' }))).toBe('BAD_REQUEST');
  });
});

describe('endpoint failures', () => {
  it('reports an error status clearly, keeps the other answer and the prompt, and a retry of the failed side works', async () => {
    const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: 'Fail once' });
    const good = await streamSide(annotator, turnId, 0);
    expect(good.done).toBe(true);
    fake.failNext(1, 503, 'the server is overloaded');
    const failed = await streamSide(annotator, turnId, 1);
    expect(failed).toMatchObject({ done: false, error: { message: 'The model endpoint answered 503: the server is overloaded', retryable: true } });

    const row = await turnRow(turnId);
    expect(row.responseIds[0]).not.toBeNull();
    expect(row.responseIds[1]).toBeNull();
    expect(row.prompt).toEqual([{ role: 'user', content: 'Fail once' }]);

    fake.failNext(1, 429, 'rate limit reached');
    expect((await streamSide(annotator, turnId, 1)).error).toEqual({ message: 'The model endpoint answered 429: rate limit reached', retryable: true });

    const retried = await streamSide(annotator, turnId, 1);
    expect(retried).toMatchObject({ done: true, error: null });
    const item = await caller(annotator).live.finalizeTurn({ turnId });
    expect(item.responses.map((r) => r.messages[0]!.content)).toEqual([good.text, retried.text]);
    expect((await turnRow(turnId)).responseIds[0]).toBe(row.responseIds[0]);
  });

  it('times out a silent model and a stalled one with a clear message, storing nothing for that side', async () => {
    const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: 'Slow' });
    fake.hangNext(1);
    const silent = await streamSide(annotator, turnId, 0, { timeoutMs: 300 });
    expect(silent.error).toEqual({ message: 'The model did not answer within 300 ms.', retryable: true });
    fake.stallNext(1);
    const stalled = await streamSide(annotator, turnId, 0, { timeoutMs: 300 });
    expect(stalled.deltas.length).toBe(1);
    expect(stalled.error).toEqual({ message: 'The model stopped answering: nothing came for 300 ms.', retryable: true });
    expect((await turnRow(turnId)).responseIds).toEqual([null, null]);
    expect((await streamSide(annotator, turnId, 0)).done).toBe(true);
  });

  it('never names the model in an error, even when the endpoint does', async () => {
    const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: 'Who are you?' });
    const model = await sideModel(turnId, 0);
    fake.failNext(1, 404, `The model \`${model.apiModel}\` does not exist (${model.name} at ${fake.baseUrl})`);
    const failed = await streamSide(annotator, turnId, 0);
    expect(failed.error?.message).toBe('The model endpoint answered 404: The model `[model]` does not exist ([model] at [model])');
    expect(failed.error?.retryable).toBe(false);
  });

  it('stops asking the model when the browser goes away, and stores nothing half-written', async () => {
    const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: 'Leave early' });
    fake.setChunkDelay(100);
    try {
      const abort = new AbortController();
      const left = await streamSide(annotator, turnId, 0, { signal: abort.signal, onDelta: () => abort.abort() });
      expect(left.done).toBe(false);
      expect(left.error).toBeNull();
    } finally {
      fake.setChunkDelay(5);
    }
    await new Promise((r) => setTimeout(r, 600));
    expect((await turnRow(turnId)).responseIds).toEqual([null, null]);
    // The model server saw the request hang up before its answer was finished.
    expect(fake.requests.at(-1)!.completed).toBe(false);
  });

  it('stores one response per side when two streams of the same side race', async () => {
    const { turnId } = await caller(annotator).live.startTurn({ project: project.slug, message: 'Race' });
    const drain = async () => {
      let text = '';
      for await (const d of generateSide(db.current.handle.db, { turnId, side: 1, annotatorId: annotator.id, timeoutMs: 5000 })) text += d;
      return text;
    };
    const [x, y] = await Promise.all([drain(), drain()]);
    expect(x).toBe(y);
    const [{ n }] = (await db.current.handle.db.execute(sql`
      select count(*)::int as n from responses r join live_turns t on t.prompt_id = r.prompt_id where t.id = ${turnId}`)) as unknown as [{ n: number }];
    expect(n).toBe(1);
  });
});

describe('what leaves the server', () => {
  it('gives annotators no model names and nobody the key', async () => {
    const annotatorOutputs: unknown[] = [];
    const started = await caller(annotator).live.startTurn({ project: project.slug, message: 'Leak check' });
    annotatorOutputs.push(started);
    for (const side of [0, 1]) annotatorOutputs.push(await streamSide(annotator, started.turnId, side));
    const item = await caller(annotator).live.finalizeTurn({ turnId: started.turnId });
    annotatorOutputs.push(item, await caller(annotator).live.session({ project: project.slug }));
    await caller(annotator).annotation.submit({ handle: item.handle, clientSubmissionId: crypto.randomUUID(), chosenPosition: 1, strength: 'better', timeSpentMs: 1 });
    annotatorOutputs.push(await caller(annotator).live.session({ project: project.slug }));
    annotatorOutputs.push(await caller(annotator).annotation.history({ project: project.slug }));

    const annotatorText = JSON.stringify(annotatorOutputs);
    for (const secret of [ALPHA.name, BRAVO.name, ALPHA.apiKeyEnv, fake.baseUrl, KEY]) expect(annotatorText).not.toContain(secret);
    expect(annotatorText).not.toMatch(/"(model|models|modelId|modelIds|apiModel|baseUrl)"\s*:/);

    const adminOutputs = [
      await caller(admin).models.list(),
      await caller(admin).models.forProject({ project: project.slug }),
      await caller(admin).models.setForProject({ project: project.slug, modelIds }),
      await caller(admin).models.register({ name: 'with-key', baseUrl: fake.baseUrl, apiModel: 'fake-key', apiKeyEnv: ALPHA.apiKeyEnv }),
      await caller(admin).projects.overview({ project: project.slug }),
    ];
    expect(JSON.stringify(adminOutputs)).not.toContain(KEY);
    const [row] = await db.current.handle.db.execute(sql`select * from models where name = 'with-key'`);
    expect(JSON.stringify(row)).not.toContain(KEY);
  });
});

describe('the command line', () => {
  const cli = (args: string[]) => runCli(args, { env: { ...process.env, DATABASE_URL: db.current.url }, timeoutMs: 60_000 });

  it('registers models and chooses a project’s live models, with clear errors and help', async () => {
    const added = await cli(['model', 'add', '--name', 'cli-model', '--base-url', fake.baseUrl, '--model', 'fake-cli', '--api-key-env', 'CLI_UNSET_API_KEY', '--temperature', '0.4', '--top-p', '0.95', '--max-tokens', '128']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('registered model cli-model');
    expect(added.stderr).toContain('CLI_UNSET_API_KEY is not set');
    const [row] = await db.current.handle.db.execute<{ api_key_env: string; sampling: unknown }>(sql`select api_key_env, sampling from models where name = 'cli-model'`);
    expect(row).toEqual({ api_key_env: 'CLI_UNSET_API_KEY', sampling: { temperature: 0.4, top_p: 0.95, max_tokens: 128 } });

    const chosen = await cli(['project', 'models', '--project', project.slug, '--models', `${ALPHA.name},cli-model`]);
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(chosen.stdout).toContain(`uses 2 model(s): ${ALPHA.name}, cli-model`);

    const unknown = await cli(['project', 'models', '--project', project.slug, '--models', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error: no model named nope');
    const badKey = await cli(['model', 'add', '--name', 'x', '--base-url', fake.baseUrl, '--model', 'm', '--api-key-env', 'sk-123']);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain('error: apiKeyEnv: must be an environment variable name');
    const help = await cli(['model', 'add', '--help']);
    expect(help.stdout).toMatch(/--base-url <url>[\s\S]*--api-key-env <VAR>[\s\S]*--temperature <t>[\s\S]*--top-p <p>[\s\S]*--max-tokens <k>/);
    const list = await cli(['model', 'list']);
    expect(list.stdout).toContain('cli-model\tfake-cli at');
    // Restore the project's pair for any test that runs after this one.
    await setProjectModels(db.current.handle.db, { projectId: project.id, modelIds });
  }, 120_000);
});
