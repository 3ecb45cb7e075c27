import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createApiToken } from '@/server/api-tokens/api-tokens';
import { apiOperations } from '@/server/api-v1/openapi';
import { getQueue } from '@/server/jobs/queue';
import type { TProject } from '@/server/projects/projects';
import { appRouter } from '@/server/root';
import type { TAccess, TMeta } from '@/server/trpc';
import type { TRole, TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { inputJsonSchema, sampleValue, type TFieldHints } from '../helpers/schema-samples';

/**
 * Every tRPC procedure and REST operation x every kind of caller, generated from the router and
 * the operation list. Each procedure declares who may call it (meta.access, set by the builder
 * it starts from); this test holds every caller to that declaration. A procedure without one
 * fails here, so a new procedure cannot ship without an authorization decision.
 */

const db = setupTestDatabase();

type TCaller = 'anonymous' | 'annotator' | 'outsider' | 'reviewer' | 'project admin' | 'platform admin';
const callers: TCaller[] = ['anonymous', 'annotator', 'outsider', 'reviewer', 'project admin', 'platform admin'];
/** The caller's role in the fixture project (platform admins are admins everywhere). */
const roleIn: Record<TCaller, TRole | null> = { anonymous: null, outsider: null, annotator: 'annotator', reviewer: 'reviewer', 'project admin': 'admin', 'platform admin': 'admin' };

let project: TProject;
let otherProject: TProject;
const users = {} as Record<Exclude<TCaller, 'anonymous'>, TSessionUser>;
let spare: TSessionUser;

type TProcedure = { _def: { type: string; inputs: z.ZodType[]; meta?: TMeta } };
const procedures = Object.entries((appRouter as unknown as { _def: { procedures: Record<string, TProcedure> } })._def.procedures);

beforeAll(async () => {
  // Hundreds of calls a minute by one user: the per-user rate limits would answer instead of the access check.
  for (const name of ['EXPORTS', 'DOWNLOADS', 'DATASET_BUILDS', 'STATS', 'LIVE_TURNS']) process.env[`PAIRWISE_RATE_LIMIT_${name}`] = 'off';
  const { handle } = db.current;
  const [annotator, outsider, reviewer, projectAdmin, platformAdmin, spareUser] = await Promise.all([
    makeUser(handle, 'annotator'),
    makeUser(handle, 'annotator'),
    makeUser(handle, 'annotator'),
    makeUser(handle, 'annotator'),
    makeUser(handle, 'admin'),
    makeUser(handle, 'annotator'),
  ]);
  Object.assign(users, { annotator, outsider, reviewer, 'project admin': projectAdmin, 'platform admin': platformAdmin });
  spare = spareUser;
  project = await makeProject(handle, {
    members: [
      { user: annotator, role: 'annotator' },
      { user: reviewer, role: 'reviewer' },
      { user: projectAdmin, role: 'admin' },
    ],
  });
  otherProject = await makeProject(handle, { members: [{ user: outsider, role: 'admin' }] });
  await importLines(handle, project, comparisonLines(4, 'matrix'));
});

afterAll(async () => {
  await stopSharedQueue();
  if (process.env.DATABASE_URL) await (await getQueue(process.env.DATABASE_URL)).stop({ graceful: false, wait: true }).catch(() => {});
});

/** What a caller must get from a procedure with this access decision: allowed, or refused with these codes. */
function expected(access: TAccess, caller: TCaller, namesProject: boolean): 'allowed' | TRPCError['code'][] {
  if (access.kind === 'public') return 'allowed';
  if (caller === 'anonymous') return ['UNAUTHORIZED'];
  switch (access.kind) {
    case 'signed-in':
      // Scoped to the caller; a filter naming someone else's project is an unknown project.
      return namesProject && caller === 'outsider' ? ['NOT_FOUND'] : 'allowed';
    case 'platform-admin':
      return caller === 'platform admin' ? 'allowed' : ['FORBIDDEN'];
    case 'project': {
      const role = roleIn[caller];
      // Outsiders learn nothing, not even that the project exists.
      if (!role) return ['NOT_FOUND'];
      return access.roles.includes(role) ? 'allowed' : ['FORBIDDEN'];
    }
    case 'resource':
      // The resource (a version, a handle, a token) belongs to the fixture project: outsiders are refused.
      return caller === 'outsider' ? ['NOT_FOUND', 'FORBIDDEN'] : 'allowed';
  }
}

/** Refusals that mean "not for you": anything else (a 400 for the sample input, a 409) got past the access check. */
const accessRefusals = new Set<TRPCError['code']>(['UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND']);

describe('authorization matrix: every procedure x every caller', () => {
  it('every procedure declares who may call it', () => {
    const undecided = procedures.filter(([, p]) => !p._def.meta?.access).map(([path]) => path);
    expect(undecided).toEqual([]);
  });

  it('holds every caller to the declaration', async () => {
    const hints: TFieldHints = { project: project.slug, email: spare.email, userId: spare.id, password: 'a long enough password', apiKeyEnv: 'OPENAI_API_KEY', baseUrl: 'http://127.0.0.1:9/v1' };
    const mismatches: string[] = [];
    let calls = 0;
    for (const [path, procedure] of procedures) {
      const access = procedure._def.meta?.access;
      if (!access) continue;
      const schema = procedure._def.inputs[0];
      const input = schema ? sampleValue(inputJsonSchema(schema), hints) : undefined;
      for (const caller of callers) {
        const want = expected(access, caller, typeof input === 'object' && input !== null && 'project' in input);
        // Resource-scoped procedures are held only to refusing strangers here; their own tests cover the rest.
        if (access.kind === 'resource' && want === 'allowed') continue;
        const api = callerFor(db.current.handle, db.current.url, caller === 'anonymous' ? null : users[caller]) as unknown as Record<string, Record<string, (i: unknown) => Promise<unknown>>>;
        const [namespace, name] = path.split('.') as [string, string];
        calls++;
        const outcome = await api[namespace]![name]!(input).then(
          () => 'allowed' as const,
          (error: unknown) => (error instanceof TRPCError ? error : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: String(error) })),
        );
        const got = outcome === 'allowed' ? 'allowed' : outcome.code;
        const gotPastAccess = outcome === 'allowed' || !accessRefusals.has(outcome.code) || (outcome.code === 'NOT_FOUND' && !/project/.test(outcome.message));
        const ok = want === 'allowed' ? gotPastAccess && got !== 'INTERNAL_SERVER_ERROR' : typeof got === 'string' && want.includes(got as TRPCError['code']);
        if (!ok) mismatches.push(`${path} as ${caller} (${access.kind}${'roles' in access ? ` ${access.roles.join('/')}` : ''}): wanted ${String(want)}, got ${got}${outcome === 'allowed' ? '' : ` (${outcome.message.slice(0, 120)})`}`);
      }
    }
    console.log(`authorization matrix: ${procedures.length} procedures, ${calls} calls, ${mismatches.length} mismatches`);
    expect(mismatches).toEqual([]);
  }, 300_000);
});

describe('authorization matrix: every REST operation x every token', () => {
  it('holds read and write tokens of this and of another project to their scope', async () => {
    process.env.DATABASE_URL = db.current.url;
    const { db: drizzle } = db.current.handle;
    const admin = users['project admin'];
    const stranger = users.outsider;
    const token = async (creator: TSessionUser, slug: string, access: 'read' | 'write') => (await createApiToken(drizzle, creator, { name: `${access} ${slug}`, projects: [slug], access })).secret;
    const tokens = {
      none: null,
      'read, this project': await token(admin, project.slug, 'read'),
      'write, this project': await token(admin, project.slug, 'write'),
      'read, another project': await token(stranger, otherProject.slug, 'read'),
      'write, another project': await token(stranger, otherProject.slug, 'write'),
    } as const;
    // A dataset version of the fixture project, for the operations that name one.
    const created = await callerFor(db.current.handle, db.current.url, admin).datasets.build({ name: 'matrix', spec: { projects: [project.slug] } } as never);
    const versionId = (created as { id: number }).id;
    const mismatches: string[] = [];
    for (const operation of apiOperations) {
      const { spec } = operation;
      if (spec.access === 'public') continue;
      const path = spec.path.replace('{project}', project.slug).replace('{id}', String(versionId));
      const body =
        spec.body && 'json' in spec.body && spec.body.json
          ? JSON.stringify(sampleValue(inputJsonSchema(spec.body.json), { projects: [project.slug], project: project.slug, name: 'matrix' }))
          : spec.body
            ? `${JSON.stringify({ id: `m-${Math.random()}`, prompt: 'p', responses: [{ content: 'a' }, { content: 'b' }] })}\n`
            : undefined;
      for (const [label, secret] of Object.entries(tokens)) {
        const request = new Request(`http://pairwise.test/api/v1${path}`, {
          method: spec.method.toUpperCase(),
          headers: { ...(secret ? { authorization: `Bearer ${secret}` } : {}), 'content-type': spec.body && 'json' in spec.body ? 'application/json' : 'application/x-ndjson' },
          body,
        });
        const params = { project: project.slug, id: String(versionId) };
        const response = await operation.handle(request, { params: Promise.resolve(params) });
        const text = await response.text();
        const status = response.status;
        // The request names a resource of the fixture project (in its path or its body)?
        const names = spec.path.includes('{') || (body?.includes(project.slug) ?? false);
        // A listing for a stranger's token must not show the fixture project's version.
        if (label.includes('another') && !names && status < 300 && text.includes(`"id":${versionId},`)) mismatches.push(`${spec.method} ${spec.path} with ${label} token lists version ${versionId}`);
        let want: string;
        if (!secret) want = '401';
        else if (spec.access === 'write' && label.startsWith('read')) want = '403';
        else if (label.includes('another')) want = names ? '403 or 404' : 'scoped 2xx';
        else want = 'allowed';
        const ok =
          want === '401' ? status === 401 : want === '403' ? status === 403 : want === '403 or 404' ? status === 403 || status === 404 : want === 'scoped 2xx' ? status < 300 || status === 404 : status < 400 || status === 409;
        if (!ok) mismatches.push(`${spec.method} ${spec.path} with ${label} token: wanted ${want}, got ${status}`);
      }
    }
    expect(mismatches).toEqual([]);
  }, 120_000);
});
