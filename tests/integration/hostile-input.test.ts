import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createApiToken } from '@/server/api-tokens/api-tokens';
import { apiOperations } from '@/server/api-v1/openapi';
import type { TApiOperation } from '@/server/api-v1/operation';
import { localArtifactStore } from '@/server/artifacts/store';
import { createBoss, ensureQueues, getQueue } from '@/server/jobs/queue';
import type { TProject } from '@/server/projects/projects';
import { appRouter } from '@/server/root';
import type { TContext } from '@/server/trpc';
import type { TSessionUser } from '@/server/users/schemas';
import type PgBoss from 'pg-boss';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, importLines, makeProject, makeUser } from '../helpers/factories';
import { encodeJson, hostileValues, hostileWholeInputs, inputJsonSchema, sampleValue, type TFieldHints } from '../helpers/schema-samples';

/**
 * Every tRPC procedure, through tRPC's HTTP handler (the same one /api/trpc uses: superjson,
 * the error formatter, the middlewares), fed wrong types, missing and extra fields, text
 * PostgreSQL refuses, huge strings, deep nesting and unknown ids, as a platform admin (who gets
 * past every role check) and as an annotator. The procedures come from the router itself, so a
 * new one is covered the day it is added. Nothing may answer 500; refusals name the field.
 */

const db = setupTestDatabase();
let boss: Promise<PgBoss> | null = null;
let project: TProject;
let admin: TSessionUser;
let annotator: TSessionUser;

beforeAll(async () => {
  // Thousands of calls a minute by one user: the per-user rate limits (tested on their own) would answer most of them.
  for (const name of ['EXPORTS', 'DOWNLOADS', 'DATASET_BUILDS', 'STATS', 'LIVE_TURNS']) process.env[`PAIRWISE_RATE_LIMIT_${name}`] = 'off';
  const { handle } = db.current;
  [admin, annotator] = await Promise.all([makeUser(handle, 'admin'), makeUser(handle, 'annotator')]);
  project = await makeProject(handle, { members: [{ user: annotator, role: 'annotator' }] });
  await importLines(handle, project, comparisonLines(6, 'hostile'));
});

afterAll(async () => {
  if (boss) await (await boss).stop({ graceful: false, wait: true });
  // The REST handlers use the process-wide pool and queue, as in the web app.
  if (process.env.DATABASE_URL) await (await getQueue(process.env.DATABASE_URL)).stop({ graceful: false, wait: true }).catch(() => {});
});

function context(user: TSessionUser): TContext {
  return {
    db: db.current.handle,
    user,
    store: localArtifactStore('/tmp/pairwise-test-artifacts'),
    queue: () =>
      (boss ??= (async () => {
        const b = createBoss(db.current.url, 'web');
        await b.start();
        await ensureQueues(b);
        return b;
      })()),
  };
}

interface TOutcome {
  status: number;
  code?: string;
  message?: string;
  field?: string;
}

/** One call exactly as a browser makes it: GET with ?input= for queries, a JSON POST for mutations. */
async function call(user: TSessionUser, path: string, type: 'query' | 'mutation', input: unknown): Promise<TOutcome> {
  // Plain JSON under superjson's `json` key, as an attacker would send it (superjson's own
  // serializer recurses and cannot even encode the deepest payloads).
  const encoded = encodeJson({ json: input });
  const url = new URL(`http://pairwise.test/api/trpc/${path}`);
  let request: Request;
  if (type === 'query') {
    url.searchParams.set('input', encoded);
    request = new Request(url);
  } else {
    request = new Request(url, { method: 'POST', body: encoded, headers: { 'content-type': 'application/json' } });
  }
  const response = await fetchRequestHandler({ endpoint: '/api/trpc', req: request, router: appRouter, createContext: () => context(user) });
  const text = await response.text();
  const body = JSON.parse(text) as { error?: { json?: { message?: string; data?: { code?: string; field?: string } } } };
  const error = body.error?.json;
  return { status: response.status, code: error?.data?.code, message: error?.message, field: error?.data?.field };
}

type TProcedure = { _def: { type: 'query' | 'mutation' | 'subscription'; inputs: z.ZodType[] } };
const procedures = Object.entries((appRouter as unknown as { _def: { procedures: Record<string, TProcedure> } })._def.procedures).filter(
  ([, p]) => p._def.type !== 'subscription',
);

interface TCase {
  name: string;
  input: unknown;
  /** The top-level field the case attacks, when it attacks one. */
  field?: string;
}

function casesFor(procedure: TProcedure, hints: TFieldHints): TCase[] {
  const schema = procedure._def.inputs[0];
  const cases: TCase[] = hostileWholeInputs().map(({ name, value }) => ({ name, input: value }));
  if (!schema) return cases;
  const base = sampleValue(inputJsonSchema(schema), hints);
  if (base === null || typeof base !== 'object' || Array.isArray(base)) return [...cases, { name: 'sample', input: base }];
  cases.push({ name: 'sample', input: base }, { name: 'extra field', input: { ...base, unexpected: 'extra', __proto__: { polluted: true } } });
  const properties = Object.keys((inputJsonSchema(schema) as { properties?: Record<string, unknown> }).properties ?? base);
  for (const key of properties) {
    const { [key]: _removed, ...rest } = base;
    cases.push({ name: `${key} missing`, input: rest, field: key });
    for (const { name, value } of hostileValues()) cases.push({ name: `${key}: ${name}`, input: { ...base, [key]: value }, field: key });
  }
  return cases;
}

const statusCounts = new Map<number, number>();
const timings = new Map<string, number>();
const failures: string[] = [];
const unnamedRefusals: string[] = [];

async function attack(user: TSessionUser, role: string) {
  const hints: TFieldHints = { project: project.slug, projectSlug: project.slug, email: 'someone@test.local', password: 'a long enough password', apiKeyEnv: 'OPENAI_API_KEY', baseUrl: 'http://127.0.0.1:9/v1' };
  for (const [path, procedure] of procedures) {
    const started = Date.now();
    let cases = casesFor(procedure, hints);
    // Where the role is refused outright, its field-by-field cases would only repeat the refusal.
    const sample = cases.find((c) => c.name === 'sample');
    if (sample && role !== 'platform admin') {
      const { status } = await call(user, path, procedure._def.type as 'query' | 'mutation', sample.input);
      if (status === 401 || status === 403) cases = cases.filter((c) => !c.field);
    }
    for (const testCase of cases) {
      const outcome = await call(user, path, procedure._def.type as 'query' | 'mutation', testCase.input).catch(
        (error: unknown) => ({ status: -1, message: `threw: ${String(error)}` }) as TOutcome,
      );
      statusCounts.set(outcome.status, (statusCounts.get(outcome.status) ?? 0) + 1);
      const label = `${role} ${path} [${testCase.name}] → ${outcome.status} ${outcome.message ?? ''}`.slice(0, 300);
      if (outcome.status >= 500 || outcome.status < 0) failures.push(label);
      // A refusal must name the field it is about (data.field, or "field: reason"), so a client can point at it.
      if (outcome.status === 400 && testCase.field && !outcome.field && !/^[\w.[\]]+: /.test(outcome.message ?? '')) {
        unnamedRefusals.push(label);
      }
    }
    timings.set(`${role} ${path}`, Date.now() - started);
  }
}

describe('hostile input to every procedure', () => {
  it('never answers 5xx, and names the refused field', async () => {
    const rssBefore = process.memoryUsage().rss;
    await attack(admin, 'platform admin');
    await attack(annotator, 'annotator');
    const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    const total = [...statusCounts.values()].reduce((a, b) => a + b, 0);
    console.log(`slowest: ${[...timings].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
    console.log(
      `hostile input: ${procedures.length} procedures, ${total} calls; by status ${JSON.stringify(Object.fromEntries([...statusCounts].sort(([a], [b]) => a - b)))}; RSS growth ${rssGrowthMb.toFixed(0)} MB`,
    );
    expect(failures).toEqual([]);
    expect(unnamedRefusals).toEqual([]);
  }, 600_000);
});

/** The REST API (/api/v1) the same way: hostile path parameters, query strings and bodies, with a valid write token. */
describe('hostile input to every REST operation', () => {
  function restCases(operation: TApiOperation, hints: TFieldHints): { name: string; params: Record<string, unknown>; query: Record<string, unknown>; body?: string; field?: string }[] {
    const { spec } = operation;
    const params = spec.params ? (sampleValue(inputJsonSchema(spec.params), hints) as Record<string, unknown>) : {};
    const query = spec.query ? (sampleValue(inputJsonSchema(spec.query), hints) as Record<string, unknown>) : {};
    const json = spec.body && 'json' in spec.body && spec.body.json ? (sampleValue(inputJsonSchema(spec.body.json), hints) as Record<string, unknown>) : undefined;
    const file = spec.body && 'file' in spec.body;
    const sampleBody = json ? encodeJson(json) : file ? '' : undefined;
    const out: ReturnType<typeof restCases> = [{ name: 'sample', params, query, body: sampleBody }];
    const strings = hostileValues().filter(({ value }) => typeof value === 'string' || typeof value === 'number');
    for (const key of Object.keys(spec.params ? inputJsonSchema(spec.params).properties ?? {} : {})) {
      for (const { name, value } of strings) out.push({ name: `param ${key}: ${name}`, params: { ...params, [key]: String(value) }, query, body: sampleBody, field: key });
    }
    for (const key of Object.keys(spec.query ? inputJsonSchema(spec.query).properties ?? {} : {})) {
      for (const { name, value } of strings) out.push({ name: `query ${key}: ${name}`, params, query: { ...query, [key]: String(value) }, body: sampleBody, field: key });
    }
    if (json) {
      for (const key of Object.keys(inputJsonSchema(spec.body && 'json' in spec.body ? spec.body.json! : undefined!).properties ?? json)) {
        for (const { name, value } of hostileValues()) out.push({ name: `body ${key}: ${name}`, params, query, body: encodeJson({ ...json, [key]: value }), field: key });
      }
      out.push({ name: 'body: not JSON', params, query, body: '{"unterminated' }, { name: 'body: deep nesting', params, query, body: `${'['.repeat(100_000)}${']'.repeat(100_000)}` });
    }
    if (file) {
      out.push(
        { name: 'file: NUL in a line', params, query, body: `${JSON.stringify({ id: 'n', prompt: 'a\u0000b', responses: [{ content: 'x' }, { content: 'y' }] })}\n` },
        { name: 'file: invalid UTF-8', params, query, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]).toString('latin1') },
        { name: 'file: deep nesting', params, query, body: `{"id":"d","prompt":${'['.repeat(50_000)}${']'.repeat(50_000)}}\n` },
      );
    }
    return out;
  }

  it('never answers 5xx, and names the refused field', async () => {
    process.env.DATABASE_URL = db.current.url;
    const { secret } = await createApiToken(db.current.handle.db, admin, { name: 'hostile', projects: [project.slug], access: 'write' });
    const hints: TFieldHints = { project: project.slug, id: 1 };
    const counts = new Map<number, number>();
    const restFailures: string[] = [];
    for (const operation of apiOperations) {
      if (operation.spec.access === 'public') continue;
      for (const testCase of restCases(operation, hints)) {
        // The handler reads its parameters from `params` (Next.js decodes the path); the URL only has to parse.
        const path = operation.spec.path.replace(/\{(\w+)\}/g, (_m, key: string) => encodeURIComponent(String(testCase.params[key] ?? '').replace(/[\ud800-\udfff]/g, '?')));
        const url = new URL(`http://pairwise.test/api/v1${path}`);
        for (const [key, value] of Object.entries(testCase.query)) if (value !== undefined) url.searchParams.set(key, String(value));
        const request = new Request(url, {
          method: operation.spec.method.toUpperCase(),
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: operation.spec.method === 'post' ? (testCase.body ?? '') : undefined,
        });
        const params = Object.fromEntries(Object.entries(testCase.params).map(([k, v]) => [k, String(v)]));
        const response = await operation.handle(request, { params: Promise.resolve(params) });
        const text = await response.text();
        counts.set(response.status, (counts.get(response.status) ?? 0) + 1);
        const label = `${operation.spec.method} ${operation.spec.path} [${testCase.name}] → ${response.status} ${text.slice(0, 200)}`;
        if (response.status >= 500) restFailures.push(label);
        if (response.status === 400 && testCase.field) {
          const error = (JSON.parse(text) as { error?: { field?: string; message?: string } }).error;
          if (!error?.field && !/^[\w.[\]]+: /.test(error?.message ?? '') && !/line \d+/.test(error?.message ?? '')) restFailures.push(`unnamed: ${label}`);
        }
      }
    }
    console.log(`hostile REST input: ${apiOperations.length} operations; by status ${JSON.stringify(Object.fromEntries([...counts].sort(([a], [b]) => a - b)))}`);
    expect(restFailures).toEqual([]);
  }, 300_000);
});
