import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getDb } from '@/db/client';
import { datasetVersions } from '@/db/schema';
import { createApiToken, revokeApiToken } from '@/server/api-tokens/api-tokens';
import { localArtifactStore } from '@/server/artifacts/store';
import { buildDatasetVersion } from '@/server/datasets/build-version';
import type { TVersionManifest } from '@/server/datasets/version-files';
import { getQueue } from '@/server/jobs/queue';
import { addMember, type TProject } from '@/server/projects/projects';
import type { TSessionUser } from '@/server/users/schemas';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { readWithHyparquet } from '../helpers/parquet-read';
import { comparisonLines, makeProject, makeUser } from '../helpers/factories';
import { castVote } from '../helpers/votes';

/**
 * The /api/v1 route handlers, called as Next.js calls them: a web Request in, a Response out,
 * with the process-wide database pool, queue and artifact store the app uses.
 */
const db = setupTestDatabase();
const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-api-v1-'));
const apiDir = path.resolve(import.meta.dirname, '../../app/api/v1');
const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

type THandler = (request: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>;
interface TRoute {
  /** OpenAPI form: /api/v1/datasets/{id} */
  path: string;
  pattern: RegExp;
  names: string[];
  handlers: Partial<Record<(typeof methods)[number], THandler>>;
}

function routeFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return routeFiles(full);
    return entry.name === 'route.ts' ? [full] : [];
  });
}

const routes: TRoute[] = [];

async function loadRoutes(): Promise<void> {
  for (const file of routeFiles(apiDir)) {
    const segments = path.relative(apiDir, path.dirname(file)).split(path.sep).filter(Boolean);
    const names: string[] = [];
    const pattern = segments
      .map((s) => {
        const param = /^\[(\w+)\]$/.exec(s);
        if (!param) return s.replace(/[.]/g, '\\.');
        names.push(param[1]!);
        return '([^/]+)';
      })
      .join('/');
    const exported = (await import(file)) as Record<string, unknown>;
    const handlers = Object.fromEntries(methods.filter((m) => typeof exported[m] === 'function').map((m) => [m, exported[m] as THandler]));
    routes.push({
      path: `/api/v1${segments.length ? '/' : ''}${segments.map((s) => s.replace(/^\[(\w+)\]$/, '{$1}')).join('/')}`,
      pattern: new RegExp(`^/api/v1${segments.length ? '/' : ''}${pattern}$`),
      names,
      handlers,
    });
  }
}

/** One request to the API: finds the route for the path and calls its handler. */
async function api(method: (typeof methods)[number], url: string, options: { token?: string; authorization?: string; body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> {
  const full = new URL(url, 'http://pairwise.test');
  for (const route of routes) {
    const match = route.pattern.exec(full.pathname);
    if (!match) continue;
    const handler = route.handlers[method];
    if (!handler) throw new Error(`${method} ${full.pathname}: no handler`);
    const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
    const authorization = options.authorization ?? (options.token ? `Bearer ${options.token}` : undefined);
    const request = new Request(full, {
      method,
      headers: { ...(authorization ? { authorization } : {}), ...options.headers },
      body: options.body,
      ...(options.body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    return handler(request, { params: Promise.resolve(params) });
  }
  throw new Error(`no route for ${full.pathname}`);
}

interface TErrorBody {
  error: { code: string; message: string; field?: string; status?: string };
}

async function expectError(response: Response, status: number, code: string, message?: RegExp): Promise<TErrorBody['error']> {
  const body = (await response.json()) as TErrorBody;
  expect(response.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  if (message) expect(body.error.message).toMatch(message);
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  return body.error;
}

/** A body streamed in small chunks, as a large upload arrives. */
function streamed(bytes: Buffer, chunkSize = 64): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(new Uint8Array(bytes.subarray(offset, offset + chunkSize)));
      offset += chunkSize;
    },
  });
}

async function comparisonCount(project: TProject): Promise<number> {
  const [row] = await db.current.handle.sql<{ n: number }[]>`select count(*)::int as n from comparisons where project_id = ${project.id}`;
  return row!.n;
}

const ndjson = async (response: Response) =>
  (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

let owner: TSessionUser;
let projectA: TProject;
let projectB: TProject;
let projectC: TProject;
const tokens = {} as Record<'writeA' | 'readA' | 'writeB' | 'readAB' | 'revoked' | 'expired', { id: number; secret: string }>;

beforeAll(async () => {
  process.env.DATABASE_URL = db.current.url;
  process.env.PAIRWISE_ARTIFACTS_DIR = artifacts;
  await loadRoutes();
  const { handle } = db.current;
  owner = await makeUser(handle, 'annotator');
  const members = [{ user: owner, role: 'admin' as const }];
  projectA = await makeProject(handle, { members });
  projectB = await makeProject(handle, { members });
  projectC = await makeProject(handle, { members });
  const create = async (name: string, projects: TProject[], access: 'read' | 'write', expiresAt?: string) => {
    const { token, secret } = await createApiToken(handle.db, owner, { name, projects: projects.map((p) => p.slug), access, expiresAt });
    return { id: token.id, secret };
  };
  tokens.writeA = await create('write A', [projectA], 'write');
  tokens.readA = await create('read A', [projectA], 'read');
  tokens.writeB = await create('write B', [projectB], 'write');
  tokens.readAB = await create('read A and B', [projectA, projectB], 'read');
  tokens.revoked = await create('revoked', [projectA], 'write');
  await revokeApiToken(handle.db, owner, tokens.revoked.id);
  tokens.expired = await create('expired', [projectA], 'write', new Date(Date.now() + 60_000).toISOString());
  await handle.sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${tokens.expired.id}`;
});

afterAll(async () => {
  await (await getQueue(db.current.url)).stop({ graceful: false, wait: true });
  await getDb().close();
  fs.rmSync(artifacts, { recursive: true, force: true });
});

describe('authentication', () => {
  it('refuses requests without a valid, live token with a 401', async () => {
    const attempts: [string | undefined, RegExp][] = [
      [undefined, /send an API token/],
      ['Basic dXNlcjpwYXNz', /must be "Bearer <token>"/],
      ['Bearer not-a-token', /invalid API token/],
      [`Bearer pw_${'A'.repeat(43)}`, /invalid API token/],
      [`Bearer ${tokens.revoked.secret}`, /revoked/],
      [`Bearer ${tokens.expired.secret}`, /expired/],
    ];
    for (const [authorization, message] of attempts) {
      const response = await api('GET', '/api/v1/datasets', { authorization });
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      await expectError(response, 401, 'UNAUTHORIZED', message);
    }
    // The write endpoints authenticate before anything else.
    await expectError(await api('POST', `/api/v1/projects/${projectA.slug}/comparisons`, { body: comparisonLines(1).join('\n') }), 401, 'UNAUTHORIZED');
    expect(await comparisonCount(projectA)).toBe(0);
  });

  it('records when a token was last used, at most once a minute', async () => {
    const lastUsed = async () =>
      (await db.current.handle.sql<{ at: number | null }[]>`select (extract(epoch from last_used_at) * 1000)::float8 as at from api_tokens where id = ${tokens.readAB.id}`)[0]!.at;
    expect(await lastUsed()).toBeNull();
    expect((await api('GET', '/api/v1/datasets', { token: tokens.readAB.secret })).status).toBe(200);
    const first = await lastUsed();
    expect(first).toBeGreaterThan(Date.now() - 60_000);
    expect((await api('GET', '/api/v1/datasets', { token: tokens.readAB.secret })).status).toBe(200);
    expect(await lastUsed()).toBe(first);
    await db.current.handle.sql`update api_tokens set last_used_at = now() - interval '2 minutes' where id = ${tokens.readAB.id}`;
    expect((await api('GET', '/api/v1/datasets', { token: tokens.readAB.secret })).status).toBe(200);
    expect(await lastUsed()).toBeGreaterThanOrEqual(first!);
  });

  it('gives a token no more than its creator’s rights: losing admin in a project closes it to the token', async () => {
    const { handle } = db.current;
    const lead = await makeUser(handle, 'annotator');
    await addMember(handle.db, { projectId: projectC.id, userId: lead.id, role: 'admin' });
    const { secret } = await createApiToken(handle.db, lead, { name: 'lead', projects: [projectC.slug], access: 'write' });
    expect((await api('GET', `/api/v1/projects/${projectC.slug}/datasets`, { token: secret })).status).toBe(200);
    await addMember(handle.db, { projectId: projectC.id, userId: lead.id, role: 'annotator' });
    await expectError(await api('GET', `/api/v1/projects/${projectC.slug}/datasets`, { token: secret }), 404, 'NOT_FOUND', new RegExp(`no project with slug ${projectC.slug}`));
    await expectError(
      await api('POST', `/api/v1/projects/${projectC.slug}/comparisons`, { token: secret, body: comparisonLines(1).join('\n') }),
      404,
      'NOT_FOUND',
    );
    expect(await comparisonCount(projectC)).toBe(0);
  });

  it('refuses a NUL character in a path or query parameter with a 400 naming it, before any query', async () => {
    await expectError(await api('GET', '/api/v1/projects/a%00b/datasets', { token: tokens.readAB.secret }), 400, 'BAD_REQUEST', /^project: contains a NUL character/);
    await expectError(await api('GET', '/api/v1/datasets?project=a%00b', { token: tokens.readAB.secret }), 400, 'BAD_REQUEST', /^project: contains a NUL character/);
  });

  it('only lets project admins create tokens, for their own projects', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle, 'annotator');
    await addMember(handle.db, { projectId: projectA.id, userId: annotator.id, role: 'annotator' });
    await expect(createApiToken(handle.db, annotator, { name: 'x', projects: [projectA.slug], access: 'read' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(createApiToken(handle.db, annotator, { name: 'x', projects: [projectB.slug], access: 'read' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(createApiToken(handle.db, owner, { name: 'x', projects: [projectA.slug], access: 'read', expiresAt: '2001-01-01T00:00:00Z' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      field: 'expiresAt',
    });
    const [stored] = await handle.sql<{ token_hash: string; prefix: string }[]>`select token_hash, prefix from api_tokens where id = ${tokens.writeA.id}`;
    expect(stored!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.token_hash).not.toContain(tokens.writeA.secret.slice(3));
    expect(tokens.writeA.secret.startsWith(stored!.prefix)).toBe(true);
  });
});

describe('the token CLI', () => {
  it('creates a token that works at once (the secret alone on stdout), lists it and revokes it', async () => {
    const env = { ...process.env, DATABASE_URL: db.current.url };
    const created = await runCli(['token', 'create', '--name', 'from cli', '--project', projectA.slug, projectB.slug, '--access', 'read', '--user', owner.email], { env });
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^pw_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/shown only once/);
    expect((await api('GET', `/api/v1/projects/${projectB.slug}/datasets`, { token: secret })).status).toBe(200);

    const [row] = await db.current.handle.sql<{ id: number }[]>`select id::int from api_tokens where name = 'from cli'`;
    const listed = await runCli(['token', 'list'], { env });
    expect(listed.stdout).toContain(`${row!.id}\t${secret.slice(0, 9)}…\tread\tactive\tfrom cli`);
    expect(listed.stdout).not.toContain(secret);
    const revoked = await runCli(['token', 'revoke', '--id', String(row!.id)], { env });
    expect(revoked.code, revoked.stderr).toBe(0);
    await expectError(await api('GET', '/api/v1/datasets', { token: secret }), 401, 'UNAUTHORIZED', /revoked/);
  }, 120_000);
});

describe('import', () => {
  it('imports a gzipped JSONL upload, streamed, and skips what is already there', async () => {
    const file = gzipSync(Buffer.from(comparisonLines(4).join('\n') + '\n'));
    const response = await api('POST', `/api/v1/projects/${projectA.slug}/comparisons?format=native`, {
      token: tokens.writeA.secret,
      body: streamed(file),
      headers: { 'content-type': 'application/gzip' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ project: projectA.slug, format: 'native', lines: 4, imported: 4, duplicates: 0, prompts: 4, judgments: 0, skipped: 0 });
    const again = await api('POST', `/api/v1/projects/${projectA.slug}/comparisons`, { token: tokens.writeA.secret, body: comparisonLines(4).join('\n') });
    expect(await again.json()).toMatchObject({ imported: 0, duplicates: 4 });
    expect(await comparisonCount(projectA)).toBe(4);
  });

  it('refuses a file with a bad line with a 400 naming the line, and writes nothing', async () => {
    const lines = comparisonLines(5, 'bad');
    lines[2] = JSON.stringify({ id: 'bad-2', prompt: 'p', responses: [{ content: 'only one' }] });
    const response = await api('POST', `/api/v1/projects/${projectA.slug}/comparisons`, { token: tokens.writeA.secret, body: streamed(Buffer.from(lines.join('\n'))) });
    const error = await expectError(response, 400, 'BAD_REQUEST', /^line 3: /);
    expect(error.field).toBe('line 3');
    const malformed = await api('POST', `/api/v1/projects/${projectA.slug}/comparisons`, { token: tokens.writeA.secret, body: `${comparisonLines(1, 'm')[0]}\n{"id": ` });
    expect((await expectError(malformed, 400, 'BAD_REQUEST', /malformed JSON/)).field).toBe('line 2');
    expect(await comparisonCount(projectA)).toBe(4);
  });

  it('imports TRL preference pairs with their labels, and names the file in errors', async () => {
    const pair = (i: number, rejected = `no ${i}`) => JSON.stringify({ prompt: `question ${i}`, chosen: `yes ${i}`, rejected });
    const url = `/api/v1/projects/${projectB.slug}/comparisons?format=trl&name=prefs.jsonl`;
    const bad = await api('POST', url, { token: tokens.writeB.secret, body: [pair(0), pair(1, 'yes 1')].join('\n') });
    expect((await expectError(bad, 400, 'BAD_REQUEST', /^prefs\.jsonl: line 2: /)).field).toBe('prefs.jsonl: line 2');
    expect(await comparisonCount(projectB)).toBe(0);
    const response = await api('POST', url, { token: tokens.writeB.secret, body: [pair(0), pair(1)].join('\n') });
    expect(await response.json()).toMatchObject({ format: 'trl', lines: 2, imported: 2, judgments: 2, duplicates: 0 });
    const [labels] = await db.current.handle.sql<{ n: number }[]>`
      select count(*)::int as n from judgments j join comparisons c on c.id = j.comparison_id where c.project_id = ${projectB.id} and j.source = 'trl:prefs.jsonl'`;
    expect(labels!.n).toBe(2);
  });

  it('imports the answers layout from multipart/form-data parts, all or nothing', async () => {
    const prompts = ['u1', 'u2', 'u3'].map((uid) => JSON.stringify({ uid, prompt: `question ${uid}`, category: 'test' })).join('\n');
    const answers = (model: string, uids: string[]) =>
      uids.map((uid) => JSON.stringify({ uid, model, messages: [{ role: 'user', content: `question ${uid}` }, { role: 'assistant', content: { answer: `${model} on ${uid}` } }] })).join('\n');
    const form = (parts: [string, string | Buffer][]) => {
      const data = new FormData();
      for (const [name, content] of parts) data.append('files', new Blob([typeof content === 'string' ? content : new Uint8Array(content)]), name);
      return data;
    };
    const url = `/api/v1/projects/${projectB.slug}/comparisons?format=answers`;
    const before = await comparisonCount(projectB);

    const raw = await api('POST', url, { token: tokens.writeB.secret, body: prompts });
    expect((await expectError(raw, 400, 'BAD_REQUEST', /multipart/)).field).toBe('format');
    const badLine = await api('POST', url, {
      token: tokens.writeB.secret,
      body: form([['question.jsonl', prompts], ['model-a.jsonl', answers('model-a', ['u1'])], ['model-b.jsonl', `${answers('model-b', ['u1'])}\n{"uid": "u2"}`]]),
    });
    expect((await expectError(badLine, 400, 'BAD_REQUEST', /^model-b\.jsonl: line 2: /)).field).toBe('model-b.jsonl: line 2');
    expect(await comparisonCount(projectB)).toBe(before);

    const response = await api('POST', `${url}&models=model-b,model-a`, {
      token: tokens.writeB.secret,
      body: form([['question.jsonl', prompts], ['model-a.jsonl.gz', gzipSync(answers('model-a', ['u1', 'u2', 'u3']))], ['model-b.jsonl', answers('model-b', ['u1', 'u2'])]]),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ format: 'answers', imported: 2, skipped: 1, judgments: 0 });
    expect(await comparisonCount(projectB)).toBe(before + 2);
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('pairwise-upload-'))).toEqual([]);
  });

  it('needs a write token, a project in the token’s scope and known parameters', async () => {
    const body = () => comparisonLines(2, 'scope').join('\n');
    await expectError(await api('POST', `/api/v1/projects/${projectA.slug}/comparisons`, { token: tokens.readA.secret, body: body() }), 403, 'FORBIDDEN', /read-only/);
    await expectError(await api('POST', `/api/v1/projects/${projectB.slug}/comparisons`, { token: tokens.writeA.secret, body: body() }), 404, 'NOT_FOUND', new RegExp(projectB.slug));
    await expectError(await api('POST', '/api/v1/projects/no-such-project/comparisons', { token: tokens.writeA.secret, body: body() }), 404, 'NOT_FOUND', /no-such-project/);
    const format = await expectError(await api('POST', `/api/v1/projects/${projectA.slug}/comparisons?format=csv`, { token: tokens.writeA.secret, body: body() }), 400, 'BAD_REQUEST');
    expect(format.field).toBe('format');
    await expectError(await api('POST', `/api/v1/projects/${projectA.slug}/comparisons?formt=trl`, { token: tokens.writeA.secret, body: body() }), 400, 'BAD_REQUEST', /formt/);
    await expectError(await api('POST', `/api/v1/projects/${projectA.slug}/comparisons`, { token: tokens.writeA.secret }), 400, 'BAD_REQUEST', /no file/);
    expect(await comparisonCount(projectA)).toBe(4);
  });
});

describe('dataset versions', () => {
  let versionId: number;
  let manifest: TVersionManifest;

  beforeAll(async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    await addMember(handle.db, { projectId: projectA.id, userId: annotator.id, role: 'annotator' });
    // c-0..c-2 are kept (better or stronger); c-3 is marginally better, dropped by the default spec.
    const strengths = ['significantly_better', 'better', 'better', 'marginally_better'] as const;
    for (const [i, strength] of strengths.entries()) await castVote(handle, projectA, annotator, `c-${i}`, (i % 2) as 0 | 1, strength);
  });

  it('builds a version from a POST, for write tokens whose scope holds every project of the spec', async () => {
    const spec = { projects: [projectA.slug], testFraction: 0 };
    await expectError(await api('POST', '/api/v1/datasets', { token: tokens.readA.secret, body: JSON.stringify({ name: 'v', spec }) }), 403, 'FORBIDDEN');
    await expectError(await api('POST', '/api/v1/datasets', { token: tokens.writeA.secret, body: JSON.stringify({ name: 'v', spec: { projects: [projectA.slug, projectB.slug] } }) }), 404, 'NOT_FOUND', new RegExp(projectB.slug));
    expect((await expectError(await api('POST', '/api/v1/datasets', { token: tokens.writeA.secret, body: JSON.stringify({ spec }) }), 400, 'BAD_REQUEST')).field).toBe('name');
    expect((await expectError(await api('POST', '/api/v1/datasets', { token: tokens.writeA.secret, body: JSON.stringify({ name: 'v', spec: { ...spec, minStrength: 'best' } }) }), 400, 'BAD_REQUEST')).field).toBe('spec.minStrength');
    await expectError(await api('POST', '/api/v1/datasets', { token: tokens.writeA.secret, body: '{"name": ' }), 400, 'BAD_REQUEST', /not JSON/);
    const [versionsBefore] = await db.current.handle.sql<{ n: number }[]>`select count(*)::int as n from dataset_versions`;
    expect(versionsBefore!.n).toBe(0);

    const response = await api('POST', '/api/v1/datasets', { token: tokens.writeA.secret, body: JSON.stringify({ name: 'Round 1 / RM', spec }), headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(202);
    const version = (await response.json()) as { id: number; status: string; spec: { projects: string[]; minStrength: string }; links: { self: string; download: string } };
    expect(version).toMatchObject({ status: 'queued', spec: { projects: [projectA.slug], minStrength: 'better' } });
    expect(response.headers.get('location')).toBe(`/api/v1/datasets/${version.id}`);
    versionId = version.id;

    const early = await api('GET', `/api/v1/datasets/${versionId}/download`, { token: tokens.readA.secret });
    expect((await expectError(early, 409, 'CONFLICT', /queued, not built/)).status).toBe('queued');

    // What the worker's build-dataset job does.
    const built = await buildDatasetVersion(db.current.handle, localArtifactStore(artifacts), versionId);
    expect(built?.status).toBe('succeeded');
    const got = await api('GET', `/api/v1/datasets/${versionId}`, { token: tokens.readA.secret });
    const body = (await got.json()) as { status: string; manifest: TVersionManifest; contentHash: string; progress: { done: number } };
    expect(body.status).toBe('succeeded');
    expect(body.manifest.counts).toMatchObject({ pairs: 3, train: 3, test: 0 });
    expect(body.contentHash).toMatch(/^[0-9a-f]{64}$/);
    manifest = body.manifest;
  });

  it('downloads a built version in trainer formats and Parquet, streamed, with its counts in headers', async () => {
    const trl = await api('GET', `/api/v1/datasets/${versionId}/download?format=trl&split=all`, { token: tokens.readA.secret });
    expect(trl.status).toBe(200);
    expect(trl.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(trl.headers.get('content-disposition')).toBe(`attachment; filename="round-1-rm-v${versionId}-all.trl.jsonl"`);
    expect(trl.headers.get('x-pairwise-pairs')).toBe('3');
    expect(trl.headers.get('x-pairwise-content-hash')).toBe(manifest.contentHash);
    expect(trl.body).toBeInstanceOf(ReadableStream);
    const trlLines = await ndjson(trl);
    expect(trlLines).toHaveLength(3);
    for (const line of trlLines) {
      expect(line).toMatchObject({ prompt: [{ role: 'user' }], chosen: [{ role: 'assistant' }], rejected: [{ role: 'assistant' }] });
      expect((line.prompt as { content: string }[])[0]!.content).toMatch(/^prompt c [012]$/);
    }

    const hh = await api('GET', `/api/v1/datasets/${versionId}/download?format=hh-rlhf&split=train`, { token: tokens.readA.secret });
    expect(hh.headers.get('content-disposition')).toContain(`-v${versionId}-train.hh-rlhf.jsonl`);
    const hhLines = await ndjson(hh);
    expect(hhLines).toHaveLength(3);
    for (const line of hhLines) {
      expect(line.chosen).toMatch(/^\n\nHuman: prompt c [012]\n\nAssistant: answer c [012] from m[12]$/);
      expect(line.rejected).toMatch(/^\n\nHuman: prompt c [012]\n\nAssistant: answer c [012] from m[12]$/);
      expect(line.chosen).not.toBe(line.rejected);
    }

    const parquet = await api('GET', `/api/v1/datasets/${versionId}/download?format=parquet&split=all`, { token: tokens.readA.secret });
    expect(parquet.status).toBe(200);
    expect(parquet.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    expect(parquet.headers.get('content-disposition')).toBe(`attachment; filename="round-1-rm-v${versionId}-all.parquet"`);
    const file = Buffer.from(await parquet.arrayBuffer());
    const { rows } = await readWithHyparquet(file);
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => (r.prompt as { content: string }[])[0]!.content).sort()).toEqual(['prompt c 0', 'prompt c 1', 'prompt c 2']);

    const test = await api('GET', `/api/v1/datasets/${versionId}/download?format=sft&split=test`, { token: tokens.readA.secret });
    expect(test.status).toBe(200);
    expect(test.headers.get('x-pairwise-pairs')).toBe('0');
    expect(await test.text()).toBe('');

    expect((await expectError(await api('GET', `/api/v1/datasets/${versionId}/download?format=csv`, { token: tokens.readA.secret }), 400, 'BAD_REQUEST')).field).toBe('format');
    expect((await expectError(await api('GET', '/api/v1/datasets/abc', { token: tokens.readA.secret }), 400, 'BAD_REQUEST')).field).toBe('id');
  });

  it('shows a token only versions whose every project is in its scope', async () => {
    // A version of project B, built with B's token.
    const created = await api('POST', '/api/v1/datasets', { token: tokens.writeB.secret, body: JSON.stringify({ name: 'B only', spec: { projects: [projectB.slug] } }) });
    expect(created.status).toBe(202);
    const versionB = ((await created.json()) as { id: number }).id;

    const ids = async (url: string, token: string) => ((await (await api('GET', url, { token })).json()) as { versions: { id: number }[] }).versions.map((v) => v.id);
    expect(await ids('/api/v1/datasets', tokens.readA.secret)).toEqual([versionId]);
    expect(await ids('/api/v1/datasets', tokens.writeB.secret)).toEqual([versionB]);
    expect(await ids('/api/v1/datasets', tokens.readAB.secret)).toEqual([versionB, versionId]);
    expect(await ids(`/api/v1/projects/${projectA.slug}/datasets`, tokens.readAB.secret)).toEqual([versionId]);
    expect(await ids(`/api/v1/datasets?project=${projectB.slug}`, tokens.readAB.secret)).toEqual([versionB]);

    const page = (await (await api('GET', '/api/v1/datasets?limit=1', { token: tokens.readAB.secret })).json()) as { versions: { id: number }[]; nextBefore: number | null };
    expect(page).toMatchObject({ versions: [{ id: versionB }], nextBefore: versionB });
    expect(await ids(`/api/v1/datasets?limit=1&before=${page.nextBefore}`, tokens.readAB.secret)).toEqual([versionId]);

    for (const url of [`/api/v1/datasets/${versionId}`, `/api/v1/datasets/${versionId}/download`]) {
      await expectError(await api('GET', url, { token: tokens.writeB.secret }), 404, 'NOT_FOUND', new RegExp(`no dataset version ${versionId}`));
    }
    await expectError(await api('GET', `/api/v1/projects/${projectA.slug}/datasets`, { token: tokens.writeB.secret }), 404, 'NOT_FOUND');
    await expectError(await api('GET', `/api/v1/datasets?project=${projectA.slug}`, { token: tokens.writeB.secret }), 404, 'NOT_FOUND');
    await expectError(await api('GET', '/api/v1/datasets/999999', { token: tokens.readA.secret }), 404, 'NOT_FOUND');
  });

  it('answers an unexpected failure with a 500 that names a log id, not a stack', async () => {
    const { handle } = db.current;
    // A version marked built whose pairs file is corrupt.
    const [row] = await handle.db.insert(datasetVersions).values({ name: 'corrupt', spec: { projects: [projectA.slug] }, status: 'succeeded', manifest: {} }).returning();
    fs.mkdirSync(path.join(artifacts, `datasets/${row!.id}`), { recursive: true });
    fs.writeFileSync(path.join(artifacts, `datasets/${row!.id}/pairs.jsonl`), '{"split": "train", "prompt": [\n');
    await handle.sql`insert into dataset_version_projects (version_id, project_id) values (${row!.id}, ${projectA.id})`;
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const response = await api('GET', `/api/v1/datasets/${row!.id}/download`, { token: tokens.readA.secret });
      expect(response.status, await response.clone().text()).toBe(500);
      const body = (await response.json()) as TErrorBody;
      expect(body.error.code).toBe('INTERNAL');
      const logId = /log id ([0-9a-f]{8})/.exec(body.error.message)?.[1];
      expect(logId).toBeDefined();
      expect(JSON.stringify(body)).not.toMatch(/JSON|pairs\.jsonl|\.ts:/);
      expect(String(logged.mock.calls[0]?.[0])).toContain(logId!);
    } finally {
      logged.mockRestore();
    }
  });
});

describe('openapi.json', () => {
  it('is an OpenAPI 3.1 document that describes every route in app/api/v1', async () => {
    const response = await api('GET', '/api/v1/openapi.json');
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown>; parameters?: { name: string; in: string }[]; security?: unknown[]; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
      components: { securitySchemes: Record<string, { type: string; scheme: string }>; schemas: Record<string, Record<string, unknown>> };
      security: Record<string, string[]>[];
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(doc.components.securitySchemes.bearerToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerToken: [] }]);

    const routeOperations = routes.flatMap((r) => Object.keys(r.handlers).map((m) => `${m.toLowerCase()} ${r.path}`)).sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`))
      .sort();
    expect(routeOperations.length).toBe(7);
    expect(documented).toEqual(routeOperations);

    const operationIds = new Set<string>();
    const refs = new Set<string>();
    JSON.stringify(doc, (key, value: unknown) => {
      if (key === '$ref') refs.add(value as string);
      return value;
    });
    for (const [p, ops] of Object.entries(doc.paths)) {
      const pathParams = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        expect(op.operationId, `${method} ${p}`).toBeTruthy();
        expect(operationIds.has(op.operationId)).toBe(false);
        operationIds.add(op.operationId);
        expect(Object.keys(op.responses).length, `${method} ${p}`).toBeGreaterThan(0);
        expect(Object.keys(op.responses)).toContain('500');
        expect((op.parameters ?? []).filter((q) => q.in === 'path').map((q) => q.name)).toEqual(pathParams);
      }
    }
    for (const ref of refs) expect(doc.components.schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();

    expect(doc.paths['/api/v1/openapi.json']!.get!.security).toEqual([]);
    expect(Object.keys(doc.paths['/api/v1/datasets']!.post!.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '404']));
    expect(Object.keys(doc.paths['/api/v1/datasets/{id}/download']!.get!.responses)).toEqual(expect.arrayContaining(['200', '409']));
    // Bodies come from the zod schemas the routes validate with: the spec's defaults are there.
    const build = doc.paths['/api/v1/datasets']!.post!.requestBody!.content['application/json']!.schema as { properties: { spec: { properties: Record<string, { default?: unknown }> } } };
    expect(build.properties.spec.properties.minStrength!.default).toBe('better');
    expect(doc.paths['/api/v1/datasets/{id}/download']!.get!.parameters!.map((q) => q.name)).toEqual(['id', 'format', 'split']);
    expect(doc.components.schemas.Error).toBeDefined();
  });
});
