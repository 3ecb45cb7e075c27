import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { verifyPassword } from '@/server/auth/passwords';
import { AppError } from '@/server/errors';
import { streamExport } from '@/server/exports/export-lines';
import { importInFormat, type TFormatImportResult, type TImportFormat } from '@/server/imports/import-formats';
import { IMPORT_USER_EMAIL, NO_SIGN_IN_HASH } from '@/server/imports/import-user';
import type { TProject } from '@/server/projects/projects';
import { updateProject } from '@/server/projects/projects';
import { annotatorStats } from '@/server/quality/annotator-stats';
import { goldAccuracyByAnnotator, markGold } from '@/server/quality/gold';
import { loadPairLabels } from '@/server/quality/labels';
import { reviewQueue, reviewStats } from '@/server/quality/reviews';
import { verifyCredentials } from '@/server/users/users';
import { repoRoot } from '../helpers/app-process';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, makeProject, makeUser } from '../helpers/factories';
import { castVote } from '../helpers/votes';
import { makeTinyEmbeddingModel } from '../fixtures/make-tiny-embedding-model';

// Semantic dedup at import loads the embedding model named here (read once, with the environment).
const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-import-embed-'));
makeTinyEmbeddingModel(modelDir);
process.env.PAIRWISE_EMBEDDING_MODEL = modelDir;
afterAll(() => fs.rmSync(modelDir, { recursive: true, force: true }));

const db = setupTestDatabase();
const FIXTURES = path.join(repoRoot, 'tests', 'fixtures', 'import');
const ARENA = path.resolve(repoRoot, '..', 'shared', 'data', 'arena-hard-v0.1');

type TFile = { name: string; source: Readable };

/** A fixture file, named as given on a command line. */
const fixture = (name: string): TFile => ({ name, source: fs.createReadStream(path.join(FIXTURES, name)) });
const inline = (name: string, body: string | Buffer): TFile => ({ name, source: Readable.from([typeof body === 'string' ? Buffer.from(body) : body]) });
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const readFixture = (name: string) =>
  fs
    .readFileSync(path.join(FIXTURES, name), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function run(project: TProject, format: TImportFormat, files: TFile[], extra: { models?: string[]; maxMessageBytes?: number } = {}): Promise<TFormatImportResult> {
  return importInFormat(db.current.handle.db, { projectId: project.id, judgmentsRequired: project.judgmentsRequired, format, files, ...extra });
}

/** The import's rejection, checked to be a 400 AppError. */
async function failure(project: TProject, format: TImportFormat, files: TFile[], extra: { models?: string[]; maxMessageBytes?: number } = {}): Promise<AppError> {
  const error = await run(project, format, files, extra).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe('BAD_REQUEST');
  return error as AppError;
}

async function counts(projectId: number) {
  const [row] = await db.current.handle.sql<{ comparisons: number; prompts: number; responses: number; judgments: number; assignments: number; ranks: number }[]>`
    select (select count(*)::int from comparisons where project_id = ${projectId}) as comparisons,
      (select count(*)::int from prompts where project_id = ${projectId}) as prompts,
      (select count(*)::int from responses r join prompts p on p.id = r.prompt_id where p.project_id = ${projectId}) as responses,
      (select count(*)::int from judgments where project_id = ${projectId}) as judgments,
      (select count(*)::int from assignments a join comparisons c on c.id = a.comparison_id where c.project_id = ${projectId}) as assignments,
      (select count(*)::int from judgment_ranks k join judgments j on j.id = k.judgment_id where j.project_id = ${projectId}) as ranks`;
  return row!;
}
const nothing = { comparisons: 0, prompts: 0, responses: 0, judgments: 0, assignments: 0, ranks: 0 };

interface TStoredPair {
  externalId: string | null;
  metadata: Record<string, unknown>;
  judgmentCount: number;
  prompt: TMessage[];
  responses: TMessage[][];
  chosenPosition: number;
  chosen: TMessage[];
  rejected: TMessage[];
  source: string;
  strength: string | null;
  annotator: string;
  status: string;
  shownInOrder: boolean;
  ranks: { chosen: number; rejected: number };
  clientSubmissionId: string;
  comparisonId: number;
}

/** Every labelled comparison of a project with its imported judgment, in import order. */
async function storedPairs(projectId: number): Promise<TStoredPair[]> {
  return db.current.handle.sql<TStoredPair[]>`
    select c.external_id as "externalId", c.metadata, c.judgment_count as "judgmentCount", p.messages as prompt,
      (select json_agg(r.messages order by cr.position) from comparison_responses cr join responses r on r.id = cr.response_id where cr.comparison_id = c.id) as responses,
      j.chosen_position as "chosenPosition", cr.messages as chosen, rr.messages as rejected, j.source, j.strength, u.email as annotator, a.status,
      a.shown_response_ids = (select array_agg(x.response_id order by x.position) from comparison_responses x where x.comparison_id = c.id) as "shownInOrder",
      json_build_object('chosen', (select rank from judgment_ranks k where k.judgment_id = j.id and k.response_id = j.chosen_response_id),
        'rejected', (select rank from judgment_ranks k where k.judgment_id = j.id and k.response_id = j.rejected_response_id)) as ranks,
      j.client_submission_id as "clientSubmissionId", c.id::int as "comparisonId"
    from comparisons c join prompts p on p.id = c.prompt_id
    join judgments j on j.comparison_id = c.id join assignments a on a.id = j.assignment_id join users u on u.id = j.annotator_id
    join responses cr on cr.id = j.chosen_response_id join responses rr on rr.id = j.rejected_response_id
    where c.project_id = ${projectId}
    order by c.id`;
}

async function exportLines(projectId: number, format: 'trl' | 'hh-rlhf'): Promise<Record<string, unknown>[]> {
  let out = '';
  for await (const chunk of streamExport(db.current.handle.sql, projectId, format)) out += chunk.toString();
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const user = (content: string): TMessage => ({ role: 'user', content });
const assistant = (content: string): TMessage => ({ role: 'assistant', content });

describe('trl', () => {
  it('imports each line as a pair with its judgment: chosen > rejected, strength unknown, by the import user', async () => {
    const project = await makeProject(db.current.handle);
    const result = await run(project, 'trl', [fixture('trl-standard.jsonl')]);
    expect(result).toEqual({ lines: 2, imported: 2, duplicates: 0, prompts: 2, judgments: 2, skipped: 0 });
    expect(await counts(project.id)).toEqual({ comparisons: 2, prompts: 2, responses: 4, judgments: 2, assignments: 2, ranks: 4 });

    const [sky, bat] = await storedPairs(project.id);
    expect(sky).toMatchObject({
      externalId: null,
      metadata: { score_chosen: 9, score_rejected: 2 },
      judgmentCount: 1,
      prompt: [user('What colour is the sky?')],
      chosen: [assistant('Blue, on a clear day.')],
      rejected: [assistant('Green.')],
      source: 'trl:trl-standard.jsonl',
      strength: null,
      annotator: IMPORT_USER_EMAIL,
      status: 'submitted',
      shownInOrder: true,
      ranks: { chosen: 1, rejected: 2 },
    });
    expect(bat).toMatchObject({ externalId: 'trl-2', metadata: { margin: 3 }, chosen: [assistant('The bat.')] });
    for (const pair of [sky!, bat!]) {
      // The chosen position is where the chosen response is stored (and shown).
      expect(pair.responses[pair.chosenPosition]).toEqual(pair.chosen);
      expect(pair.responses[1 - pair.chosenPosition]).toEqual(pair.rejected);
      expect(pair.clientSubmissionId).toBe(`import:${pair.comparisonId}`);
    }
  });

  it('reads conversational and implicit-prompt files, several in one import', async () => {
    const project = await makeProject(db.current.handle);
    const result = await run(project, 'trl', [fixture('trl-conversational.jsonl'), fixture('trl-implicit.jsonl')]);
    expect(result).toMatchObject({ lines: 2, imported: 2, judgments: 2 });
    const [conversational, implicit] = await storedPairs(project.id);
    expect(conversational).toMatchObject({
      prompt: [{ role: 'system', content: 'Answer briefly.' }, user('2 + 2?')],
      chosen: [assistant('4')],
      source: 'trl:trl-conversational.jsonl',
    });
    expect(implicit).toMatchObject({
      prompt: [user('Hi'), assistant('Hello!'), user('Tell me a joke.')],
      rejected: [assistant('No.')],
      source: 'trl:trl-implicit.jsonl',
    });
  });

  it('imports nothing new the second time, judgments included', async () => {
    const project = await makeProject(db.current.handle);
    await run(project, 'trl', [fixture('trl-standard.jsonl')]);
    const before = await counts(project.id);
    expect(await run(project, 'trl', [fixture('trl-standard.jsonl')])).toEqual({ lines: 2, imported: 0, duplicates: 2, prompts: 0, judgments: 0, skipped: 0 });
    expect(await counts(project.id)).toEqual(before);
  });

  it('stores pairs in a content-derived order, so the chosen response is not always first', async () => {
    const project = await makeProject(db.current.handle);
    const rows = Array.from({ length: 60 }, (_, i) => ({ prompt: `question ${i}`, chosen: `good answer ${i}`, rejected: `bad answer ${i}` }));
    expect(await run(project, 'trl', [inline('many.jsonl', jsonl(rows))])).toMatchObject({ imported: 60, judgments: 60 });
    const pairs = await storedPairs(project.id);
    const first = pairs.filter((p) => p.chosenPosition === 0).length;
    expect(first).toBeGreaterThan(10);
    expect(first).toBeLessThan(50);
    for (const p of pairs) expect(p.responses[p.chosenPosition]![0]!.content).toMatch(/^good/);
  });
});

describe('the import user', () => {
  it('is created once per installation and cannot sign in with any password', async () => {
    const [a, b] = [await makeProject(db.current.handle), await makeProject(db.current.handle)];
    await run(a, 'trl', [fixture('trl-standard.jsonl')]);
    await run(b, 'hh-rlhf', [fixture('hh-rlhf.jsonl')]);
    const users = await db.current.handle.sql<{ id: number; name: string; password_hash: string }[]>`select id, name, password_hash from users where email = ${IMPORT_USER_EMAIL}`;
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ name: 'Imported labels', password_hash: NO_SIGN_IN_HASH });
    for (const password of ['', 'password', 'correct horse battery', NO_SIGN_IN_HASH, '!']) {
      expect(await verifyPassword(NO_SIGN_IN_HASH, password)).toBe(false);
      expect(await verifyCredentials(db.current.handle.db, IMPORT_USER_EMAIL, password)).toBeNull();
    }
  });

  it('is never an account somebody can sign in to', async () => {
    // A database where the address was taken by a real account: imports with labels refuse to use it.
    const project = await makeProject(db.current.handle);
    await db.current.handle.sql`update users set password_hash = 'argon2-like' where email = ${IMPORT_USER_EMAIL}`;
    try {
      const error = await run(project, 'trl', [fixture('trl-standard.jsonl')]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CONFLICT' });
      expect(await counts(project.id)).toEqual(nothing);
    } finally {
      await db.current.handle.sql`update users set password_hash = ${NO_SIGN_IN_HASH} where email = ${IMPORT_USER_EMAIL}`;
    }
  });
});

describe('hh-rlhf', () => {
  it('round-trips: the hh-rlhf export gives back every line byte for byte', async () => {
    const project = await makeProject(db.current.handle);
    const result = await run(project, 'hh-rlhf', [fixture('hh-rlhf.jsonl')]);
    expect(result).toMatchObject({ lines: 5, imported: 5, judgments: 5, duplicates: 0 });
    const [, bread] = await storedPairs(project.id);
    expect(bread).toMatchObject({
      prompt: [user('Can you help me bake bread?'), assistant('Sure. What kind of bread?'), user('A simple white loaf.')],
      rejected: [assistant('Buy one at the bakery.')],
      source: 'hh-rlhf:hh-rlhf.jsonl',
    });
    const exported = await exportLines(project.id, 'hh-rlhf');
    expect(exported).toEqual(readFixture('hh-rlhf.jsonl').map((l) => ({ chosen: l.chosen, rejected: l.rejected })));
  });

  it('normalises what HH cannot round-trip: a marker without its space, two turns of one speaker in a row', async () => {
    const project = await makeProject(db.current.handle);
    const line = { chosen: '\n\nHuman:no space\n\nHuman: again\n\nAssistant: a\n\nAssistant: b', rejected: '\n\nHuman:no space\n\nHuman: again\n\nAssistant: c' };
    await run(project, 'hh-rlhf', [inline('odd.jsonl', jsonl([line]))]);
    const [pair] = await storedPairs(project.id);
    expect(pair).toMatchObject({ prompt: [user('no space'), user('again')], chosen: [assistant('a'), assistant('b')] });
    expect(await exportLines(project.id, 'hh-rlhf')).toEqual([
      { chosen: '\n\nHuman: no space\n\nagain\n\nAssistant: a\n\nb', rejected: '\n\nHuman: no space\n\nagain\n\nAssistant: c' },
    ]);
  });
});

describe('openai-chat', () => {
  it('imports prompts only, without a trailing assistant message, deduplicated by content', async () => {
    const project = await makeProject(db.current.handle);
    expect(await run(project, 'openai-chat', [fixture('openai-chat.jsonl')])).toEqual({ lines: 3, imported: 0, duplicates: 0, prompts: 3, judgments: 0, skipped: 0 });
    const prompts = await db.current.handle.sql<{ messages: TMessage[]; metadata: Record<string, unknown> }[]>`
      select messages, metadata from prompts where project_id = ${project.id} order by id`;
    expect(prompts).toEqual([
      { messages: [{ role: 'system', content: 'You are a poet.' }, user('Write a haiku about rain.')], metadata: {} },
      { messages: [user("Translate 'good morning' into Spanish.")], metadata: { tools: [] } },
      { messages: [user('Write a haiku about rain.')], metadata: { note: 'no system prompt: another prompt' } },
    ]);
    expect(await counts(project.id)).toMatchObject({ comparisons: 0, prompts: 3 });
    expect(await run(project, 'openai-chat', [fixture('openai-chat.jsonl')])).toMatchObject({ prompts: 0, duplicates: 3 });
  });
});

describe('answers', () => {
  const files = () => [fixture('answers/question.jsonl'), fixture('answers/model-a.jsonl'), fixture('answers/model-b.jsonl')];

  async function stored(projectId: number) {
    return db.current.handle.sql<{ uid: string; prompt: TMessage[]; promptMetadata: Record<string, unknown>; models: string[]; answers: string[] }[]>`
      select c.metadata ->> 'uid' as uid, p.messages as prompt, p.metadata as "promptMetadata",
        (select json_agg(r.model order by cr.position) from comparison_responses cr join responses r on r.id = cr.response_id where cr.comparison_id = c.id) as models,
        (select json_agg(r.messages -> -1 ->> 'content' order by cr.position) from comparison_responses cr join responses r on r.id = cr.response_id where cr.comparison_id = c.id) as answers
      from comparisons c join prompts p on p.id = c.prompt_id where c.project_id = ${projectId} order by c.id`;
  }

  it('joins the prompts file and two answers files on uid, in the prompts file’s order, and counts what it skips', async () => {
    const project = await makeProject(db.current.handle);
    // u4 has no answer from model-b; u9 no prompt.
    expect(await run(project, 'answers', files())).toEqual({ lines: 12, imported: 3, duplicates: 0, prompts: 3, judgments: 0, skipped: 2 });
    const rows = await stored(project.id);
    expect(rows.map((r) => r.uid)).toEqual(['u1', 'u2', 'u3']);
    expect(rows[0]).toEqual({
      uid: 'u1',
      prompt: [user('What is 12 * 12?')],
      promptMetadata: { category: 'demo', cluster: 'Arithmetic' },
      models: ['model-a', 'model-b'],
      answers: ['144', '12 * 12 = 144.'],
    });
    expect(rows[2]!.answers).toEqual(['Use `xs[::-1]` or `xs.reverse()`.', '```python\nxs.reverse()\n```']);
    expect(await run(project, 'answers', files())).toMatchObject({ imported: 0, duplicates: 3, skipped: 2 });
  });

  it('finds the prompts file by its lines, wherever it is given; the first two answers files choose the models', async () => {
    const project = await makeProject(db.current.handle);
    await run(project, 'answers', [fixture('answers/model-b.jsonl'), fixture('answers/question.jsonl'), fixture('answers/model-a.jsonl')]);
    expect((await stored(project.id)).map((r) => r.models)).toEqual(Array(3).fill(['model-b', 'model-a']));
  });

  it('compares the models asked for', async () => {
    const project = await makeProject(db.current.handle);
    expect(await run(project, 'answers', files(), { models: ['model-b', 'model-a'] })).toMatchObject({ imported: 3 });
    expect((await stored(project.id))[0]!.answers).toEqual(['12 * 12 = 144.', '144']);
  });

  it.each([
    ['a model without answers', files, { models: ['model-a', 'model-z'] }, 'models', /^no answers from model "model-z" in the files \(found: model-a, model-b\)$/],
    ['no prompts file', () => [fixture('answers/model-a.jsonl'), fixture('answers/model-b.jsonl')], {}, 'files', /needs a prompts file/],
    ['one answers file', () => [fixture('answers/question.jsonl'), fixture('answers/model-a.jsonl')], {}, 'models', /two answers files are needed/],
  ])('refuses %s', async (_name, given, extra, field, message) => {
    const project = await makeProject(db.current.handle);
    const error = await failure(project, 'answers', given(), extra);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(await counts(project.id)).toEqual(nothing);
  });

  it('names the line of a repeated answer and of a bad answer', async () => {
    const project = await makeProject(db.current.handle);
    const answer = (uid: string) => ({ uid, model: 'model-b', messages: [user('q'), assistant('a')] });
    const repeated = await failure(project, 'answers', [fixture('answers/question.jsonl'), fixture('answers/model-a.jsonl'), inline('b.jsonl', jsonl([answer('u1'), answer('u2'), answer('u1')]))]);
    expect(repeated.message).toBe('b.jsonl: line 3: a second answer of model "model-b" for uid "u1" (the first is at b.jsonl: line 1)');
    const badRole = await failure(project, 'answers', [
      fixture('answers/question.jsonl'),
      inline('b.jsonl', jsonl([answer('u1'), { uid: 'u2', model: 'model-b', messages: [{ role: 'judge', content: 'q' }, assistant('a')] }])),
    ]);
    expect(badRole.message).toMatch(/^b\.jsonl: line 2: messages\[0\]\.role: Invalid option/);
    expect(await counts(project.id)).toEqual(nothing);
  });

  const arena = fs.existsSync(path.join(ARENA, 'question.jsonl'));
  if (!arena) console.info(`import-formats: ${ARENA} is absent, so the arena-hard-v0.1 test is skipped (the fixtures cover the same code)`);
  it.skipIf(!arena)(`imports arena-hard-v0.1 from ../shared/data${arena ? '' : ' (skipped: ../shared/data/arena-hard-v0.1 is absent)'}`, async () => {
    const project = await makeProject(db.current.handle);
    const real = (name: string): TFile => ({ name, source: fs.createReadStream(path.join(ARENA, name)) });
    const result = await run(project, 'answers', [real('question.jsonl'), real('gpt-4-0314.jsonl'), real('gpt-3.5-turbo-0125.jsonl')]);
    expect(result).toMatchObject({ lines: 1500, imported: 500, skipped: 0, duplicates: 0 });
  });
});

describe('native', () => {
  it('imports several files in one transaction; a repeat across files is a duplicate', async () => {
    const project = await makeProject(db.current.handle);
    const [one, two] = [comparisonLines(3, 'one'), comparisonLines(2, 'two')];
    const result = await run(project, 'native', [inline('1.jsonl', one.join('\n')), inline('2.jsonl', [...two, one[0]].join('\n'))]);
    expect(result).toEqual({ lines: 6, imported: 5, duplicates: 1, prompts: 5, judgments: 0, skipped: 0 });
  });
});

describe('bad input names the file, the line and the reason, and writes nothing', () => {
  const good = (i: number) => JSON.stringify({ prompt: `p${i}`, chosen: `a${i}`, rejected: `b${i}` });
  const cases: [string, TImportFormat, string, RegExp][] = [
    ['malformed JSON', 'trl', '{"prompt": "p", "chosen": ', /^second\.jsonl: line 2: malformed JSON \(.+\)$/],
    ['an unknown role', 'trl', JSON.stringify({ prompt: [{ role: 'narrator', content: 'x' }], chosen: 'a', rejected: 'b' }), /^second\.jsonl: line 2: prompt\[0\]\.role: Invalid option: expected one of .*"user"/],
    ['an empty prompt', 'trl', JSON.stringify({ prompt: '   ', chosen: 'a', rejected: 'b' }), /^second\.jsonl: line 2: prompt: must not be empty$/],
    ['an unknown role in a chat', 'openai-chat', JSON.stringify({ messages: [{ role: 'bot', content: 'x' }] }), /^second\.jsonl: line 2: messages\[0\]\.role: Invalid option/],
    ['the same empty answer twice', 'hh-rlhf', JSON.stringify({ chosen: '\n\nHuman: q\n\nAssistant:', rejected: '\n\nHuman: q\n\nAssistant: ' }), /^second\.jsonl: line 2: chosen and rejected are the same response$/],
  ];
  const goodLine: Record<string, (i: number) => string> = {
    trl: good,
    'openai-chat': (i) => JSON.stringify({ messages: [user(`q${i}`)] }),
    'hh-rlhf': (i) => JSON.stringify({ chosen: `\n\nHuman: q${i}\n\nAssistant: a`, rejected: `\n\nHuman: q${i}\n\nAssistant: b` }),
  };

  it.each(cases)('%s', async (_name, format, bad, message) => {
    const project = await makeProject(db.current.handle);
    const line = goodLine[format]!;
    const error = await failure(project, format, [inline('first.jsonl', [line(1), line(2)].join('\n')), inline('second.jsonl', [line(3), bad, line(4)].join('\n'))]);
    expect(error.message).toMatch(message);
    expect(error.field).toBe('second.jsonl: line 2');
    expect(await counts(project.id)).toEqual(nothing);
  });

  it('a message over the size limit', async () => {
    const project = await makeProject(db.current.handle);
    const lines = [good(1), JSON.stringify({ prompt: 'p', chosen: 'x'.repeat(65), rejected: 'b' })];
    const error = await failure(project, 'trl', [inline('big.jsonl', lines.join('\n'))], { maxMessageBytes: 64 });
    expect(error.message).toBe('big.jsonl: line 2: an assistant message is over the 64-byte limit');
    expect(await counts(project.id)).toEqual(nothing);
  });

  it('a corrupt gzip stream, after a good file was written', async () => {
    const project = await makeProject(db.current.handle);
    const many = Array.from({ length: 1_200 }, (_, i) => good(i)).join('\n');
    const gz = zlib.gzipSync(Array.from({ length: 50 }, (_, i) => good(10_000 + i)).join('\n'));
    const error = await failure(project, 'trl', [inline('many.jsonl', many), inline('cut.jsonl.gz', gz.subarray(0, Math.floor(gz.length / 2)))]);
    expect(error.message).toMatch(/^cut\.jsonl\.gz: line \d+: the gzip stream is corrupt \(unexpected end of file\)$/);
    expect(await counts(project.id)).toEqual(nothing);
  });

  it('an id that exists with other content, found in an earlier batch', async () => {
    const project = await makeProject(db.current.handle);
    const rows = Array.from({ length: 700 }, (_, i) => ({ id: `x-${i}`, prompt: `p${i}`, chosen: 'a', rejected: 'b' }));
    rows.push({ id: 'x-3', prompt: 'other', chosen: 'a', rejected: 'b' });
    const error = await failure(project, 'trl', [inline('ids.jsonl', jsonl(rows))]);
    expect(error.message).toBe('ids.jsonl: line 701: id "x-3" already exists in this project with different content');
    expect(await counts(project.id)).toEqual(nothing);
  });

  it('a NUL character, which PostgreSQL cannot store', async () => {
    const project = await makeProject(db.current.handle);
    const error = await failure(project, 'trl', [inline('nul.jsonl', jsonl([{ prompt: 'p', chosen: 'a\u0000', rejected: 'b' }]))]);
    expect(error.message).toMatch(/^nul\.jsonl: line 1: contains a NUL character/);
  });
});

describe('imported judgments are not an annotator’s work', () => {
  it('stay out of annotator statistics, agreement, gold accuracy and the review queue, and go into exports with their source', async () => {
    const annotator = await makeUser(db.current.handle, 'annotator');
    const reviewer = await makeUser(db.current.handle, 'reviewer');
    const project = await makeProject(db.current.handle, { judgmentsRequired: 2, members: [{ user: annotator, role: 'annotator' }] });
    await updateProject(db.current.handle.db, project.id, { reviewSampleRate: 1 });
    const rows = Array.from({ length: 4 }, (_, i) => ({ id: `q-${i}`, prompt: `question ${i}`, chosen: `good ${i}`, rejected: `bad ${i}` }));
    expect(await run(project, 'trl', [inline('labels.jsonl', jsonl(rows))])).toMatchObject({ imported: 4, judgments: 4 });
    const [gold] = await db.current.handle.sql<{ id: number }[]>`select id::int from comparisons where project_id = ${project.id} and external_id = 'q-0'`;
    await markGold(db.current.handle.db, { projectId: project.id, comparisonId: gold!.id, choice: 0 });
    for (const id of ['q-1', 'q-2', 'q-3']) await castVote(db.current.handle, project, annotator, id, 0, 'better');

    const stats = await annotatorStats(db.current.handle, project.id);
    expect(stats.map((s) => [s.email, s.judgments])).toEqual([[annotator.email, 3]]);
    expect((await loadPairLabels(db.current.handle.sql, project.id)).coderIds).toEqual([annotator.id]);
    // The gold item's only answer is the imported one: nobody has a gold accuracy.
    expect(await goldAccuracyByAnnotator(db.current.handle.db, project.id)).toEqual([]);
    const queue = await reviewQueue(db.current.handle.db, { projectId: project.id, reviewerId: reviewer.id });
    expect(queue.map((q) => q.annotator.email)).toEqual([annotator.email, annotator.email, annotator.email]);
    expect((await reviewStats(db.current.handle.db, project.id)).byAnnotator.map((a) => a.email)).toEqual([annotator.email]);

    const exported = await exportLines(project.id, 'trl');
    const sources = exported.map((l) => (l.metadata as { source?: string }).source);
    expect(sources.filter((s) => s === 'trl:labels.jsonl')).toHaveLength(4);
    // Judgments made in Pairwise have no source: '' in a training file, whose metadata has no nulls.
    expect(sources.filter((s) => s === '')).toHaveLength(3);
  });
});

describe('semantic dedup at import', () => {
  it('leaves out new prompts too similar to a kept one, existing or new, with a report, all in the import transaction', async () => {
    {
      const { handle } = db.current;
      const project = await makeProject(handle);
      const line = (id: string, prompt: string) => JSON.stringify({ id, prompt, responses: [{ content: `one ${id}` }, { content: `two ${id}` }] });
      await importInFormat(handle.db, { projectId: project.id, judgmentsRequired: 1, files: [{ name: 'first.jsonl', source: Readable.from([line('a', 'write a poem about the blue sky') + '\n']) }] });
      const result = await importInFormat(handle.db, {
        projectId: project.id,
        judgmentsRequired: 1,
        dedupThreshold: 0.9,
        files: [
          {
            name: 'second.jsonl',
            source: Readable.from([
              [line('b', 'write a poem about the blue sky please'), line('c', 'explain python code to a child'), line('d', 'explain python code to a child please')].join('\n') + '\n',
            ]),
          },
        ],
      });
      expect(result).toMatchObject({ imported: 1, prompts: 1 });
      expect(result.dedupDropped!.map((d) => [d.prompt, d.nearestPrompt, d.comparisons])).toEqual([
        ['write a poem about the blue sky please', 'write a poem about the blue sky', 1],
        ['explain python code to a child please', 'explain python code to a child', 1],
      ]);
      const ids = await handle.sql<{ external_id: string }[]>`select external_id from comparisons where project_id = ${project.id} order by id`;
      expect(ids.map((r) => r.external_id)).toEqual(['a', 'c']);
      await expect(
        importInFormat(handle.db, { projectId: project.id, judgmentsRequired: 1, dedupThreshold: 1, files: [{ name: 'x.jsonl', source: Readable.from([line('e', 'x') + '\n']) }] }),
      ).rejects.toThrow(/strictly between 0 and 1, got 1/);
    }
  });
});
