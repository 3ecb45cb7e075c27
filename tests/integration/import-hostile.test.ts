import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getDb } from '@/db/client';
import type { TMessage } from '@/db/schema';
import { createApiToken } from '@/server/api-tokens/api-tokens';
import { spoolMultipart } from '@/server/api-v1/multipart';
import { AppError } from '@/server/errors';
import { streamExport } from '@/server/exports/export-lines';
import { getQueue } from '@/server/jobs/queue';
import type { TProject } from '@/server/projects/projects';
import type { TSessionUser } from '@/server/users/schemas';
import { repoRoot } from '../helpers/app-process';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, makeProject, makeUser } from '../helpers/factories';

/**
 * The importer under hostile and real-world input: decompression bombs, huge lines, bodies
 * over the limit, broken gzip, bad lines among many good ones, cross-origin uploads, and real
 * data's empty turns; through the cookie upload route, the REST route and the CLI.
 */

// Small enough to cross in a test; the line bound stays its default (16 x 1 MB).
const MAX_IMPORT_BYTES = 20 * 1024 * 1024;
vi.hoisted(() => {
  process.env.PAIRWISE_MAX_IMPORT_BYTES = String(20 * 1024 * 1024);
});
const DEFAULT_LINE_BYTES = 16_000_000;
/** Tests that start the CLI several times: each run loads the project's TypeScript anew. */
const CLI_TEST_TIMEOUT_MS = 120_000;

const session = vi.hoisted(() => ({ user: null as TSessionUser | null }));
vi.mock('server-only', () => ({}));
// The cookie route's session, without next-auth's request context.
vi.mock('@/app/_trpc/context', () => ({ currentUser: async () => session.user }));

const db = setupTestDatabase();
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-hostile-'));
const maxRssHook = path.join(repoRoot, 'tests/fixtures/report-max-rss.mjs');
const hhEmptyTurns = path.join(repoRoot, 'tests/fixtures/import/hh-rlhf-empty-turns.jsonl');

type THandler = (request: Request, context: { params: Promise<{ project: string }> }) => Promise<Response>;
let uploadRoute: THandler;
let restRoute: THandler;
let admin: TSessionUser;
let token: string;
/** 204 KB of gzip holding one line of 200 MB. */
let bomb: Buffer;

/** Gzip of `head` followed by `count` blocks of `block`, compressed as it is produced. */
async function gzipOf(head: string, block: Buffer, count: number): Promise<Buffer> {
  const gz = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = once(gz, 'end');
  gz.write(head);
  for (let i = 0; i < count; i++) if (!gz.write(block)) await once(gz, 'drain');
  gz.end();
  await ended;
  return Buffer.concat(out);
}

/** The peak growth of this process's RSS while `fn` runs, sampled every few milliseconds. */
async function rssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; mb: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, mb: (peak - before) / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

function upload(project: TProject, body: BodyInit | Buffer, options: { query?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const request = new Request(`http://pairwise.test/api/projects/${project.slug}/import${options.query ?? ''}`, {
    method: 'POST',
    headers: { host: 'pairwise.test', ...options.headers },
    body: body instanceof Buffer ? new Uint8Array(body) : body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return uploadRoute(request, { params: Promise.resolve({ project: project.slug }) });
}

function restImport(project: TProject, body: BodyInit | Buffer, options: { query?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const request = new Request(`http://pairwise.test/api/v1/projects/${project.slug}/comparisons${options.query ?? ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...options.headers },
    body: body instanceof Buffer ? new Uint8Array(body) : body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return restRoute(request, { params: Promise.resolve({ project: project.slug }) });
}

function multipart(files: { name: string; bytes: Buffer }[]): { body: Buffer; contentType: string } {
  const boundary = 'pairwise-test-boundary';
  const parts = files.flatMap((f) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${f.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    f.bytes,
    Buffer.from('\r\n'),
  ]);
  return { body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A body of `count` chunks of `chunk`, produced as it is read (no Content-Length). */
function generated(chunk: Buffer, count: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ >= count) return controller.close();
      controller.enqueue(new Uint8Array(chunk));
    },
  });
}

/** 1 MiB of blank lines of 64 KiB each: skipped by the import, so only the size limits stop it. */
function blankLines(): Buffer {
  const mb = Buffer.alloc(1024 * 1024, ' ');
  for (let i = 64 * 1024 - 1; i < mb.length; i += 64 * 1024) mb[i] = 0x0a;
  return mb;
}

async function comparisonCount(project: TProject): Promise<number> {
  const [row] = await db.current.handle.sql<{ n: number }[]>`select count(*)::int as n from comparisons where project_id = ${project.id}`;
  return row!.n;
}

async function newProject(): Promise<TProject> {
  return makeProject(db.current.handle, { members: [{ user: admin, role: 'admin' }] });
}

interface TCliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  maxRssMb: number | null;
}

/** The real CLI in a child process, reporting its peak RSS. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<TCliRun> {
  const run = await runCli(args, {
    env: { ...process.env, DATABASE_URL: db.current.url, PAIRWISE_DATA_DIR: workDir, ...env },
    nodeArgs: ['--import', maxRssHook],
    timeoutMs: 90_000,
  });
  const kb = /max-rss-kb=(\d+)/.exec(run.stderr)?.[1];
  return { ...run, stderr: run.stderr.replace(/\n?max-rss-kb=\d+\n/, ''), maxRssMb: kb ? Number(kb) / 1024 : null };
}

/** A CLI failure: exit 1, one clear error line, no stack and no stream error. */
function expectCliRefusal(run: TCliRun, message: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).toMatch(message);
  expect(run.stderr).toMatch(/nothing was imported/);
  expect(run.stderr).not.toMatch(/ERR_STREAM|Unhandled|\n\s+at /);
}

const file = (name: string, content: string | Buffer) => {
  const full = path.join(workDir, name);
  fs.writeFileSync(full, content);
  return full;
};

beforeAll(async () => {
  process.env.DATABASE_URL = db.current.url;
  const routes = path.join(repoRoot, 'app/api');
  uploadRoute = ((await import(path.join(routes, 'projects/[project]/import/route.ts'))) as { POST: THandler }).POST;
  restRoute = ((await import(path.join(routes, 'v1/projects/[project]/comparisons/route.ts'))) as { POST: THandler }).POST;
  admin = await makeUser(db.current.handle, 'annotator');
  session.user = admin;
  const project = await newProject();
  token = (await createApiToken(db.current.handle.db, admin, { name: 'import', projects: [project.slug], access: 'write' })).secret;
  bomb = await gzipOf('{"prompt": "', Buffer.alloc(1024 * 1024, 'a'), 200);
}, 120_000);

afterAll(async () => {
  await (await getQueue(db.current.url)).stop({ graceful: false, wait: true });
  await getDb().close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('a decompression bomb (one 200 MB line in ~200 KB of gzip)', () => {
  it('is refused by the upload route as soon as the line passes its bound, memory flat', async () => {
    expect(bomb.length).toBeLessThan(400_000);
    const project = await newProject();
    const { result: response, mb } = await rssGrowth(() => upload(project, bomb));
    const body = (await response.json()) as { error: string };
    expect(response.status).toBe(400);
    expect(body.error).toBe(`line 1: the line is over the ${DEFAULT_LINE_BYTES}-byte limit of a line (PAIRWISE_MAX_LINE_BYTES)`);
    console.log(`upload route, gzip bomb: RSS grew ${mb.toFixed(1)} MB`);
    expect(mb).toBeLessThan(150);
    expect(await comparisonCount(project)).toBe(0);
  });

  it('is refused by the REST route, raw or as a multipart file, naming the file', async () => {
    const project = await newProject();
    const tokenProject = (await createApiToken(db.current.handle.db, admin, { name: 'bomb', projects: [project.slug], access: 'write' })).secret;
    token = tokenProject;
    const raw = await restImport(project, bomb, { query: '?name=bomb.jsonl.gz' });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { message: string } }).error.message).toMatch(/^bomb\.jsonl\.gz: line 1: the line is over the \d+-byte limit/);
    const form = multipart([{ name: 'bomb.jsonl.gz', bytes: bomb }]);
    const { result: response, mb } = await rssGrowth(() => restImport(project, form.body, { headers: { 'content-type': form.contentType } }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/^bomb\.jsonl\.gz: line 1: the line is over/);
    console.log(`REST multipart route, gzip bomb: RSS grew ${mb.toFixed(1)} MB`);
    expect(await comparisonCount(project)).toBe(0);
  });

  it('is refused by the CLI with the file and line, its memory bounded', async () => {
    const project = await newProject();
    const bombFile = file('bomb.jsonl.gz', bomb);
    const small = file('small.jsonl', comparisonLines(3).join('\n'));
    const baseline = await cli(['import', '--project', project.slug, small]);
    expect(baseline.code, baseline.stderr).toBe(0);
    const run = await cli(['import', '--project', project.slug, bombFile]);
    expectCliRefusal(run, new RegExp(`error: ${bombFile.replace(/[.]/g, '\\.')}: line 1: the line is over the ${DEFAULT_LINE_BYTES}-byte limit`));
    console.log(`CLI peak RSS: ${baseline.maxRssMb?.toFixed(1)} MB importing 3 lines, ${run.maxRssMb?.toFixed(1)} MB refusing the bomb`);
    expect(run.maxRssMb! - baseline.maxRssMb!).toBeLessThan(100);
    expect(await comparisonCount(project)).toBe(3);
  }, CLI_TEST_TIMEOUT_MS);
});

describe('size limits of the upload routes', () => {
  it('answers 413 naming the limit for a declared body over it, before reading', async () => {
    const project = await newProject();
    const response = await upload(project, generated(Buffer.from('\n'), 1), { headers: { 'content-length': String(MAX_IMPORT_BYTES + 1) } });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toBe(`the request body is over the ${MAX_IMPORT_BYTES}-byte import limit (PAIRWISE_MAX_IMPORT_BYTES)`);
  });

  it('answers 413 for a streamed body that passes the limit, on both routes', async () => {
    const project = await newProject();
    token = (await createApiToken(db.current.handle.db, admin, { name: 'big', projects: [project.slug], access: 'write' })).secret;
    const mb = blankLines();
    const a = await upload(project, generated(mb, 21));
    expect(a.status).toBe(413);
    const b = await restImport(project, generated(mb, 21));
    expect(b.status).toBe(413);
    expect(((await b.json()) as { error: { message: string } }).error.message).toMatch(/over the 20971520-byte import limit/);
  });

  it('answers 413 when the text after gunzip passes the limit', async () => {
    const project = await newProject();
    const blank = await gzipOf('', blankLines(), 25);
    const response = await upload(project, blank);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toMatch(/^line \d+: the data is over the 20971520-byte limit of one import \(after gunzip\) \(PAIRWISE_MAX_IMPORT_BYTES\)$/);
  });

  it('cuts a multipart file at the limit with a 413, never importing a truncated file', async () => {
    const dir = fs.mkdtempSync(path.join(workDir, 'spool-'));
    const form = multipart([{ name: 'big.jsonl', bytes: Buffer.alloc(5000, '\n') }]);
    const error = await spoolMultipart(Readable.from([form.body]), 'pairwise-test-boundary', dir, { maxFileBytes: 1000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: 'multipart body: file "big.jsonl" is over the 1000-byte import limit (PAIRWISE_MAX_IMPORT_BYTES)' });
  });
});

describe('every error path ends in a clear refusal', () => {
  const good = comparisonLines(4000, 'g');
  const bad = '{"prompt": "p", "responses": [';

  it('the CLI names a bad line among thousands, plain or gzipped, and imports nothing', async () => {
    const project = await newProject();
    const text = [good[0], bad, ...good.slice(1)].join('\n');
    expect(text.length).toBeGreaterThan(512 * 1024);
    for (const [name, bytes] of [
      ['bad.jsonl', Buffer.from(text)],
      ['bad.jsonl.gz', zlib.gzipSync(text)],
    ] as const) {
      const run = await cli(['import', '--project', project.slug, file(name, bytes)]);
      expectCliRefusal(run, new RegExp(`${name.replace(/[.]/g, '\\.')}: line 2: malformed JSON`));
    }
    expect(await comparisonCount(project)).toBe(0);
  }, CLI_TEST_TIMEOUT_MS);

  it('the CLI refuses a truncated gzip, a corrupt one and an unreadable file', async () => {
    const project = await newProject();
    const gz = zlib.gzipSync(good.join('\n'));
    const truncated = await cli(['import', '--project', project.slug, file('cut.jsonl.gz', gz.subarray(0, Math.floor(gz.length / 2)))]);
    expectCliRefusal(truncated, /cut\.jsonl\.gz: line \d+: the gzip stream is corrupt \(unexpected end of file\)/);
    const corrupt = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(4096, 0xff), gz.subarray(20)]);
    const garbage = await cli(['import', '--project', project.slug, file('garbage.jsonl.gz', corrupt)]);
    expectCliRefusal(garbage, /garbage\.jsonl\.gz: line \d+: the gzip stream is corrupt/);
    const directory = fs.mkdtempSync(path.join(workDir, 'dir-'));
    const io = await cli(['import', '--project', project.slug, directory]);
    expectCliRefusal(io, /line 1: the input could not be read \(EISDIR/);
    expect(await comparisonCount(project)).toBe(0);
  }, CLI_TEST_TIMEOUT_MS);

  it('the routes answer 400 for a corrupt gzip and a bad line among thousands', async () => {
    const project = await newProject();
    const gz = zlib.gzipSync([good[0], bad, ...good.slice(1)].join('\n'));
    const badLine = await upload(project, gz);
    expect(badLine.status).toBe(400);
    expect(((await badLine.json()) as { error: string }).error).toMatch(/^line 2: malformed JSON/);
    const cut = await upload(project, gz.subarray(0, gz.length - 100));
    expect(cut.status).toBe(400);
    expect(((await cut.json()) as { error: string }).error).toMatch(/^line 2: malformed JSON|the gzip stream is corrupt/);
    expect(await comparisonCount(project)).toBe(0);
  });
});

describe('lenient imports (--skip-invalid, ?skipInvalid=1)', () => {
  const lines = (tooLong: string) => [
    ...comparisonLines(2, 'ok'),
    '{"prompt": "p", "responses": [',
    JSON.stringify({ prompt: 'p', responses: [{ content: 'only one' }] }),
    tooLong,
    ...comparisonLines(2, 'more'),
    JSON.stringify({ id: 'ok-0', prompt: 'other content', responses: [{ content: 'a' }, { content: 'b' }] }),
  ];

  it('the CLI imports the valid lines and streams the rejected ones to a report', async () => {
    const project = await newProject();
    const input = file('mixed.jsonl', lines(JSON.stringify({ prompt: 'x'.repeat(5000), responses: [{ content: 'a' }, { content: 'b' }] })).join('\n'));
    const run = await cli(['import', '--project', project.slug, '--skip-invalid', input], { PAIRWISE_MAX_LINE_BYTES: '4096' });
    expect(run.code, run.stderr).toBe(0);
    const report = path.join(workDir, 'mixed.rejects.jsonl');
    expect(run.stdout).toContain(`imported 4 comparison(s) into ${project.slug}`);
    expect(run.stdout).toContain(`skipped 4 invalid line(s) (see ${report})`);
    const rejected = fs
      .readFileSync(report, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; line: number; reason: string });
    expect(rejected.map((r) => r.line)).toEqual([3, 4, 5, 8]);
    expect(rejected[0]!.reason).toMatch(/^malformed JSON \(.+\)$/);
    expect(rejected.slice(1).map((r) => r.reason)).toEqual([
      'responses: a comparison needs at least two responses',
      'the line is over the 4096-byte limit of a line (PAIRWISE_MAX_LINE_BYTES)',
      'id "ok-0" already exists in this project with different content',
    ]);
    expect(rejected.every((r) => r.file === input)).toBe(true);
    expect(await comparisonCount(project)).toBe(4);

    const elsewhere = path.join(workDir, 'elsewhere.jsonl');
    const again = await cli(['import', '--project', project.slug, '--skip-invalid', '--rejects', elsewhere, input], { PAIRWISE_MAX_LINE_BYTES: '4096' });
    expect(again.stdout).toContain(`skipped 4 invalid line(s) (see ${elsewhere})`);
    expect(fs.readFileSync(elsewhere, 'utf8').trim().split('\n')).toHaveLength(4);
  }, CLI_TEST_TIMEOUT_MS);

  it('the routes list the rejected lines in their answer; without the flag nothing is imported', async () => {
    const project = await newProject();
    token = (await createApiToken(db.current.handle.db, admin, { name: 'lenient', projects: [project.slug], access: 'write' })).secret;
    const body = lines(JSON.stringify({ prompt: 'fine', responses: [{ content: 'a' }, { content: 'b' }] })).join('\n');
    const strict = await upload(project, body);
    expect(strict.status).toBe(400);
    expect(await comparisonCount(project)).toBe(0);
    const lenient = await upload(project, body, { query: '?skipInvalid=1&name=mixed.jsonl' });
    const result = (await lenient.json()) as { imported: number; rejected: number; rejectedLines: { file: string; line: number; reason: string }[] };
    expect(lenient.status, JSON.stringify(result)).toBe(200);
    expect(result.imported).toBe(5);
    expect(result.rejected).toBe(3);
    expect(result.rejectedLines.map((r) => [r.file, r.line])).toEqual([
      ['mixed.jsonl', 3],
      ['mixed.jsonl', 4],
      ['mixed.jsonl', 8],
    ]);
    const rest = await restImport(await newProjectWithToken(), body, { query: '?skipInvalid=1' });
    const restResult = (await rest.json()) as { rejected: number; rejectedLines: { file: string | null; line: number }[] };
    expect(rest.status).toBe(200);
    expect(restResult.rejected).toBe(3);
    expect(restResult.rejectedLines[0]).toMatchObject({ file: null, line: 3 });
  });
});

async function newProjectWithToken(): Promise<TProject> {
  const project = await newProject();
  token = (await createApiToken(db.current.handle.db, admin, { name: 'p', projects: [project.slug], access: 'write' })).secret;
  return project;
}

describe('cross-origin requests to the cookie upload route', () => {
  const line = comparisonLines(1, 'x')[0]!;

  it('refuses a foreign Origin with a 403, and writes nothing', async () => {
    const project = await newProject();
    for (const origin of ['https://evil.example', 'null', 'http://pairwise.test.evil.example']) {
      const response = await upload(project, line, { headers: { origin, 'content-type': 'text/plain' } });
      expect(response.status, origin).toBe(403);
      expect(((await response.json()) as { error: string }).error).toBe('cross-origin request refused');
    }
    expect(await comparisonCount(project)).toBe(0);
  });

  it('accepts its own origin, no Origin at all, and its public host behind a proxy', async () => {
    const project = await newProject();
    expect((await upload(project, line, { headers: { origin: 'http://pairwise.test' } })).status).toBe(200);
    expect((await upload(project, comparisonLines(1, 'y')[0]!)).status).toBe(200);
    const proxied = await upload(project, comparisonLines(1, 'z')[0]!, {
      headers: { host: '127.0.0.1:3000', 'x-forwarded-host': 'pairwise.example.org', origin: 'https://pairwise.example.org' },
    });
    expect(proxied.status).toBe(200);
    const spoofed = await upload(project, comparisonLines(1, 'w')[0]!, { headers: { host: '127.0.0.1:3000', origin: 'https://pairwise.example.org' } });
    expect(spoofed.status).toBe(403);
    expect(await comparisonCount(project)).toBe(3);
  });
});

describe('empty turns in real data', () => {
  async function exported(projectId: number, format: 'trl' | 'hh-rlhf' | 'openai'): Promise<Record<string, unknown>[]> {
    let out = '';
    for await (const chunk of streamExport(db.current.handle.sql, projectId, format)) out += chunk.toString();
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('imports HH-RLHF rows with empty Assistant turns and gives them back in every format', async () => {
    const project = await newProject();
    const response = await upload(project, fs.readFileSync(hhEmptyTurns), { query: '?format=hh-rlhf&name=hh.jsonl' });
    const result = (await response.json()) as { imported: number; judgments: number };
    expect(response.status, JSON.stringify(result)).toBe(200);
    expect(result).toMatchObject({ imported: 4, judgments: 4 });

    const source = fs
      .readFileSync(hhEmptyTurns, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { chosen: string; rejected: string });
    const normalise = (t: string) => t.replace(/\n\nAssistant:(?=$|\n)/g, '\n\nAssistant: ');
    const hh = await exported(project.id, 'hh-rlhf');
    expect(new Set(hh.map((l) => `${l.chosen as string}|${l.rejected as string}`))).toEqual(new Set(source.map((s) => `${normalise(s.chosen)}|${normalise(s.rejected)}`)));

    const trl = (await exported(project.id, 'trl')) as { prompt: TMessage[]; chosen: TMessage[]; rejected: TMessage[] }[];
    const chemicals = trl.find((l) => l.prompt.at(-1)!.content.startsWith('What household'))!;
    expect(chemicals.chosen).toEqual([{ role: 'assistant', content: '' }]);
    const octopus = trl.find((l) => l.prompt.at(-1)!.content.startsWith('Tell me'))!;
    expect(octopus.rejected).toEqual([{ role: 'assistant', content: '  \n' }]);
    const hello = trl.find((l) => l.prompt.length === 3 && l.prompt[0]!.content === 'hi')!;
    expect(hello.prompt[1]).toEqual({ role: 'assistant', content: '' });

    const openai = (await exported(project.id, 'openai')) as { preferred_output: TMessage[]; input: { messages: TMessage[] } }[];
    const empty = openai.find((l) => l.input.messages.at(-1)!.content.startsWith('What household'))!;
    expect(empty.preferred_output).toEqual([{ role: 'assistant', content: '' }]);
  });
});
