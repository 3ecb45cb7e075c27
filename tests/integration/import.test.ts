import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { AppError } from '@/server/errors';
import { importComparisons, type TImportProgress } from '@/server/imports/import-comparisons';
import type { TProject } from '@/server/projects/projects';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, makeProject } from '../helpers/factories';

const db = setupTestDatabase();

function runImport(project: TProject, body: string | Buffer, options: { maxMessageBytes?: number; onProgress?: (p: TImportProgress) => void } = {}) {
  return importComparisons(db.current.handle.db, {
    projectId: project.id,
    judgmentsRequired: project.judgmentsRequired,
    source: Readable.from([typeof body === 'string' ? Buffer.from(body) : body]),
    ...options,
  });
}

/** The import's rejection, checked to be a 400 AppError. */
async function importError(project: TProject, body: string | Buffer, options: { maxMessageBytes?: number } = {}): Promise<AppError> {
  const error = await runImport(project, body, options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe('BAD_REQUEST');
  return error as AppError;
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

async function counts(projectId: number) {
  const [row] = (await db.current.handle.db.execute(sql`
    select (select count(*)::int from comparisons where project_id = ${projectId}) as comparisons,
           (select count(*)::int from prompts where project_id = ${projectId}) as prompts,
           (select count(*)::int from responses r join prompts p on p.id = r.prompt_id where p.project_id = ${projectId}) as responses,
           (select count(*)::int from comparison_responses cr join comparisons c on c.id = cr.comparison_id where c.project_id = ${projectId}) as links`)) as unknown as [
    { comparisons: number; prompts: number; responses: number; links: number },
  ];
  return row;
}

interface TStoredComparison {
  externalId: string | null;
  judgmentsRequired: number;
  metadata: Record<string, unknown>;
  prompt: TMessage[];
  responses: { position: number; model: string | null; origin: string; messages: TMessage[] }[];
}

/** Every comparison of a project with its prompt and responses, in import order. */
async function stored(projectId: number): Promise<TStoredComparison[]> {
  return (await db.current.handle.db.execute(sql`
    select c.external_id as "externalId", c.judgments_required as "judgmentsRequired", c.metadata, p.messages as prompt,
           (select json_agg(json_build_object('position', cr.position, 'model', r.model, 'origin', r.origin, 'messages', r.messages) order by cr.position)
              from comparison_responses cr join responses r on r.id = cr.response_id where cr.comparison_id = c.id) as responses
      from comparisons c join prompts p on p.id = c.prompt_id
     where c.project_id = ${projectId}
     order by c.id`)) as unknown as TStoredComparison[];
}

const chat: TMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name a prime.' },
  { role: 'assistant', content: 'Seven.' },
  { role: 'user', content: 'Another one?' },
];

const sample = [
  { id: 'a', prompt: 'What is 2+2?', responses: [{ content: '4', model: 'small' }, { content: 'Four, of course.', model: 'large' }], metadata: { topic: 'math', difficulty: 1 } },
  { id: 'b', prompt: chat, responses: [{ content: 'Eleven.', model: 'small' }, { content: [{ role: 'assistant', content: 'Thirteen.' }], model: 'large' }] },
  // Shares its prompt with "a": one prompts row for both.
  { id: 'c', prompt: [{ role: 'user', content: 'What is 2+2?' }], responses: [{ content: 'IV' }, { content: '2+2' }] },
];

describe('importing comparisons', () => {
  it('stores comparisons with their prompts, responses and metadata', async () => {
    const project = await makeProject(db.current.handle, { judgmentsRequired: 3 });
    const result = await runImport(project, jsonl(sample));
    expect(result).toEqual({ lines: 3, imported: 3, duplicates: 0 });
    expect(await counts(project.id)).toEqual({ comparisons: 3, prompts: 2, responses: 6, links: 6 });

    const [a, b, c] = await stored(project.id);
    expect(a).toEqual({
      externalId: 'a',
      judgmentsRequired: 3,
      metadata: { topic: 'math', difficulty: 1 },
      prompt: [{ role: 'user', content: 'What is 2+2?' }],
      responses: [
        { position: 0, model: 'small', origin: 'model', messages: [{ role: 'assistant', content: '4' }] },
        { position: 1, model: 'large', origin: 'model', messages: [{ role: 'assistant', content: 'Four, of course.' }] },
      ],
    });
    expect(b?.prompt).toEqual(chat);
    expect(b?.metadata).toEqual({});
    expect(b?.responses.map((r) => [r.model, r.messages])).toEqual([
      ['small', [{ role: 'assistant', content: 'Eleven.' }]],
      ['large', [{ role: 'assistant', content: 'Thirteen.' }]],
    ]);
    expect(c?.prompt).toEqual(a?.prompt);
    expect(c?.responses.map((r) => r.model)).toEqual([null, null]);
  });

  it('imports many comparisons across batches with every response linked in order', async () => {
    const project = await makeProject(db.current.handle);
    const progress: TImportProgress[] = [];
    const body = comparisonLines(1_100, 'many').join('\n');
    const result = await runImport(project, body, { onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ lines: 1_100, imported: 1_100, duplicates: 0 });
    expect(await counts(project.id)).toEqual({ comparisons: 1_100, prompts: 1_100, responses: 2_200, links: 2_200 });
    expect(progress.map((p) => p.lines)).toEqual([500, 1_000, 1_100]);
    expect(progress.at(-1)?.bytes).toBe(Buffer.byteLength(body));

    // Each response belongs to its own comparison: no off-by-one across batch boundaries.
    const [{ mismatched }] = (await db.current.handle.db.execute(sql`
      select count(*)::int as mismatched
        from comparisons c join comparison_responses cr on cr.comparison_id = c.id join responses r on r.id = cr.response_id
       where c.project_id = ${project.id}
         and r.messages->0->>'content' <> format('answer many %s from m%s', substr(c.external_id, 6), cr.position + 1)`)) as unknown as [{ mismatched: number }];
    expect(mismatched).toBe(0);
  });

  it('imports nothing the second time the same file is imported', async () => {
    const project = await makeProject(db.current.handle);
    const body = comparisonLines(25, 'twice').join('\n');
    expect(await runImport(project, body)).toEqual({ lines: 25, imported: 25, duplicates: 0 });
    const before = await counts(project.id);
    expect(await runImport(project, body)).toEqual({ lines: 25, imported: 0, duplicates: 25 });
    expect(await counts(project.id)).toEqual(before);
  });

  it('recognises the same content without ids by its hash, also within one file', async () => {
    const project = await makeProject(db.current.handle);
    const rows = sample.map(({ id: _id, ...rest }) => rest);
    expect(await runImport(project, jsonl(rows))).toEqual({ lines: 3, imported: 3, duplicates: 0 });
    const before = await counts(project.id);

    // Keys in another order, the string prompt spelled as a message list: the same content.
    const reordered = rows.map((r) => ({ responses: r.responses, prompt: typeof r.prompt === 'string' ? [{ content: r.prompt, role: 'user' }] : r.prompt }));
    expect(await runImport(project, jsonl(reordered))).toEqual({ lines: 3, imported: 0, duplicates: 3 });
    // And the same content with ids is a duplicate of the rows imported without.
    expect(await runImport(project, jsonl(sample))).toEqual({ lines: 3, imported: 0, duplicates: 3 });
    expect(await counts(project.id)).toEqual(before);

    const repeated = [{ prompt: 'Once?', responses: [{ content: 'yes' }, { content: 'no' }] }];
    expect(await runImport(project, jsonl([...repeated, ...repeated]))).toEqual({ lines: 2, imported: 1, duplicates: 1 });
    expect(await counts(project.id)).toEqual({ ...before, comparisons: before.comparisons + 1, prompts: before.prompts + 1, responses: before.responses + 2, links: before.links + 2 });
  });

  it('keeps the same content apart in different projects', async () => {
    const [first, second] = [await makeProject(db.current.handle), await makeProject(db.current.handle)];
    const body = jsonl(sample);
    await runImport(first, body);
    expect(await runImport(second, body)).toEqual({ lines: 3, imported: 3, duplicates: 0 });
    expect(await counts(second.id)).toEqual(await counts(first.id));
  });

  it('rejects the whole file for a bad line after earlier batches were written', async () => {
    const project = await makeProject(db.current.handle);
    await runImport(project, comparisonLines(3, 'kept').join('\n'));
    const before = await counts(project.id);

    const progress: number[] = [];
    const lines = [...comparisonLines(1_200, 'late'), '{"prompt": "unterminated'];
    const error = await runImport(project, lines.join('\n'), { onProgress: (p) => progress.push(p.lines) }).then(
      () => null,
      (e: unknown) => e,
    );
    // Two batches of 500 had gone to the database inside the transaction before line 1201.
    expect(progress).toEqual([500, 1_000]);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'BAD_REQUEST', field: 'line 1201' });
    expect((error as AppError).message).toMatch(/^line 1201: malformed JSON/);
    expect(await counts(project.id)).toEqual(before);
    const [{ n }] = (await db.current.handle.db.execute(sql`select count(*)::int as n from comparisons where external_id like 'late-%'`)) as unknown as [{ n: number }];
    expect(n).toBe(0);
  });

  describe('explains each bad line with its number and reason', () => {
    const good = JSON.stringify({ prompt: 'fine', responses: [{ content: 'a' }, { content: 'b' }] });

    it.each([
      ['malformed JSON', '{"prompt": "p", "responses": [', /^line 2: malformed JSON \(.+\)$/],
      ['an unknown role', JSON.stringify({ prompt: [{ role: 'narrator', content: 'Once' }], responses: [{ content: 'a' }, { content: 'b' }] }), /^line 2: prompt\[0\]\.role: Invalid option: expected one of .*"user"/],
      ['an empty prompt', JSON.stringify({ prompt: ' ', responses: [{ content: 'a' }, { content: '' }] }), /^line 2: prompt: must not be empty$/],
      ['one response', JSON.stringify({ prompt: 'p', responses: [{ content: 'a' }] }), /^line 2: responses: a comparison needs at least two responses$/],
      ['nine responses', JSON.stringify({ prompt: 'p', responses: Array.from({ length: 9 }, (_, i) => ({ content: `r${i}` })) }), /^line 2: responses: a comparison holds at most 8 responses$/],
      ['a JSON value that is not an object', '[1, 2]', /^line 2: Invalid input: expected object, received array$/],
    ])('%s', async (_name, bad, message) => {
      const project = await makeProject(db.current.handle);
      const error = await importError(project, [good, bad, good.replace('fine', 'also fine')].join('\n'));
      expect(error.message).toMatch(message);
      expect(error.field).toBe('line 2');
      expect(await counts(project.id)).toEqual({ comparisons: 0, prompts: 0, responses: 0, links: 0 });
    });

    it('a message over the size limit', async () => {
      const project = await makeProject(db.current.handle);
      const body = jsonl([
        { prompt: 'short', responses: [{ content: 'a'.repeat(64) }, { content: 'b' }] },
        { prompt: 'short', responses: [{ content: 'a' }, { content: 'b'.repeat(65) }] },
      ]);
      const error = await importError(project, body, { maxMessageBytes: 64 });
      expect(error.message).toMatch(/^line 2: an? assistant message is over the 64-byte limit$/);
      expect(await counts(project.id)).toEqual({ comparisons: 0, prompts: 0, responses: 0, links: 0 });
      // The default limit lets the same file through.
      expect(await runImport(project, body)).toMatchObject({ imported: 2 });
    });

    it('a truncated gzip stream', async () => {
      const project = await makeProject(db.current.handle);
      const gz = zlib.gzipSync(comparisonLines(3, 'cut').join('\n') + '\n');
      const error = await importError(project, gz.subarray(0, gz.length - 8));
      // All three lines decoded; the stream broke after them.
      expect(error.message).toBe('line 4: the gzip stream is corrupt (unexpected end of file)');
      expect(await counts(project.id)).toEqual({ comparisons: 0, prompts: 0, responses: 0, links: 0 });
    });

    it('a gzip stream cut inside its data', async () => {
      const project = await makeProject(db.current.handle);
      const gz = zlib.gzipSync(comparisonLines(50, 'half').join('\n'));
      const error = await importError(project, gz.subarray(0, Math.floor(gz.length / 2)));
      expect(error.message).toMatch(/^line \d+: the gzip stream is corrupt \(unexpected end of file\)$/);
      expect(await counts(project.id)).toEqual({ comparisons: 0, prompts: 0, responses: 0, links: 0 });
    });

    it('an id that already exists with different content', async () => {
      const project = await makeProject(db.current.handle);
      await runImport(project, jsonl(sample));
      const before = await counts(project.id);
      const changed = { ...sample[1], responses: [{ content: 'Seventeen.' }, { content: 'Nineteen.' }] };
      const error = await importError(project, jsonl([{ id: 'new', prompt: 'x', responses: [{ content: 'a' }, { content: 'b' }] }, changed]));
      expect(error.message).toBe('line 2: id "b" already exists in this project with different content');
      expect(error.field).toBe('line 2');
      expect(await counts(project.id)).toEqual(before);
    });

    it('an id used twice in one file with different content', async () => {
      const project = await makeProject(db.current.handle);
      const rows = [
        { id: 'dup', prompt: 'one', responses: [{ content: 'a' }, { content: 'b' }] },
        { id: 'other', prompt: 'two', responses: [{ content: 'a' }, { content: 'b' }] },
        { id: 'dup', prompt: 'three', responses: [{ content: 'a' }, { content: 'b' }] },
      ];
      const error = await importError(project, jsonl(rows));
      expect(error.message).toBe('line 3: id "dup" already exists in this project with different content');
      expect(await counts(project.id)).toEqual({ comparisons: 0, prompts: 0, responses: 0, links: 0 });
    });
  });

  it('stores comparisons of three to eight responses, each linked at its position', async () => {
    const project = await makeProject(db.current.handle);
    const rows = [3, 8].map((n) => ({
      id: `rank-${n}`,
      prompt: `rank ${n}`,
      responses: Array.from({ length: n }, (_, i) => ({ content: `answer ${i} of ${n}`, model: `m${i}` })),
    }));
    expect(await runImport(project, jsonl(rows))).toEqual({ lines: 2, imported: 2, duplicates: 0 });
    expect(await counts(project.id)).toEqual({ comparisons: 2, prompts: 2, responses: 11, links: 11 });
    const [three, eight] = await stored(project.id);
    for (const [comparison, n] of [[three, 3], [eight, 8]] as const) {
      expect(comparison?.externalId).toBe(`rank-${n}`);
      expect(comparison?.responses).toEqual(
        Array.from({ length: n }, (_, i) => ({ position: i, model: `m${i}`, origin: 'model', messages: [{ role: 'assistant', content: `answer ${i} of ${n}` }] })),
      );
    }
  });

  it('imports gzip the same as plain text, recognising it by its bytes', async () => {
    const [plainProject, gzipProject] = [await makeProject(db.current.handle), await makeProject(db.current.handle)];
    const body = jsonl(sample);
    const gz = zlib.gzipSync(body);
    expect(await runImport(plainProject, body)).toEqual({ lines: 3, imported: 3, duplicates: 0 });

    const progress: TImportProgress[] = [];
    expect(await runImport(gzipProject, gz, { onProgress: (p) => progress.push(p) })).toEqual({ lines: 3, imported: 3, duplicates: 0 });
    expect(await stored(gzipProject.id)).toEqual(await stored(plainProject.id));
    // Progress counts the bytes read from the source, which are the compressed ones.
    expect(progress.at(-1)).toEqual({ lines: 3, bytes: gz.length });

    // The gzipped file is the same content: importing it where the plain one went is a no-op.
    expect(await runImport(plainProject, gz)).toEqual({ lines: 3, imported: 0, duplicates: 3 });
  });

  it('skips blank lines but counts them in line numbers', async () => {
    const project = await makeProject(db.current.handle);
    const [one, two] = comparisonLines(2, 'blank');
    expect(await runImport(project, `\n${one}\r\n\n   \n${two}\n\n`)).toEqual({ lines: 6, imported: 2, duplicates: 0 });
    expect(await counts(project.id)).toMatchObject({ comparisons: 2 });

    const other = await makeProject(db.current.handle);
    const error = await importError(other, `\n${one}\n\n\t\n${two}\nnot json\n`);
    expect(error.message).toMatch(/^line 6: malformed JSON/);
  });

  it('imports nothing from an empty file', async () => {
    const project = await makeProject(db.current.handle);
    expect(await runImport(project, '')).toEqual({ lines: 0, imported: 0, duplicates: 0 });
    expect(await runImport(project, '\n\n')).toEqual({ lines: 2, imported: 0, duplicates: 0 });
    expect(await counts(project.id)).toEqual({ comparisons: 0, prompts: 0, responses: 0, links: 0 });
  });
});
