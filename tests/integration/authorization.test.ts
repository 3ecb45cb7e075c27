import { TRPCError } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { assignmentOfHandle } from '@/server/annotation/handles';
import { localArtifactStore } from '@/server/artifacts/store';
import { AppError } from '@/server/errors';
import type { TProject } from '@/server/projects/projects';
import { appRouter } from '@/server/root';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';

const db = setupTestDatabase();

afterAll(async () => {
  await stopSharedQueue();
});

/** The TRPCError a call is refused with; fails the test if the call succeeds or throws anything else. */
async function rejection(call: Promise<unknown>): Promise<TRPCError> {
  const outcome = await call.then(
    () => ({ refused: false as const }),
    (error: unknown) => ({ refused: true as const, error }),
  );
  if (!outcome.refused) throw new Error('expected the call to be refused, but it succeeded');
  if (!(outcome.error instanceof TRPCError)) throw new Error(`expected a TRPCError, got ${String(outcome.error)}`);
  return outcome.error;
}

const refusal = async (call: Promise<unknown>): Promise<TRPCError['code']> => (await rejection(call)).code;

const caller = (user: TSessionUser | null) => callerFor(db.current.handle, db.current.url, user);
const submission = (handle: string, chosenPosition = 0) => ({
  handle,
  clientSubmissionId: crypto.randomUUID(),
  chosenPosition,
  strength: 'better' as const,
  timeSpentMs: 1500,
});

let project: TProject;
let member: TSessionUser;
let projectAdmin: TSessionUser;
let platformAdmin: TSessionUser;
let outsider: TSessionUser;
let outsideReviewer: TSessionUser;

beforeAll(async () => {
  const { handle } = db.current;
  [member, projectAdmin, platformAdmin, outsider, outsideReviewer] = await Promise.all([
    makeUser(handle, 'annotator'),
    makeUser(handle, 'annotator'),
    makeUser(handle, 'admin'),
    makeUser(handle, 'annotator'),
    makeUser(handle, 'reviewer'),
  ]);
  project = await makeProject(handle, {
    members: [
      { user: member, role: 'annotator' },
      { user: projectAdmin, role: 'admin' },
    ],
  });
  await importLines(handle, project, comparisonLines(4, 'auth'));
});

describe('signed out', () => {
  it('refuses every procedure with UNAUTHORIZED', async () => {
    const anonymous = caller(null);
    const slug = project.slug;
    const codes = await Promise.all([
      refusal(anonymous.projects.list()),
      refusal(anonymous.projects.get({ project: slug })),
      refusal(anonymous.annotation.lease({ project: slug })),
      refusal(anonymous.annotation.submit(submission('not-a-handle'))),
      refusal(anonymous.exports.list({ project: slug })),
      refusal(anonymous.exports.request({ project: slug })),
    ]);
    expect(codes).toEqual(Array(6).fill('UNAUTHORIZED'));
  });

  it('refuses before looking at the input', async () => {
    // A signed-out caller must not learn which inputs would be valid.
    await expect(caller(null).projects.get({ project: '' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(caller(null).projects.create({ slug: 'Bad Slug!', name: '' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});

describe('an annotator member', () => {
  it('cannot call admin procedures', async () => {
    const annotator = caller(member);
    const slug = project.slug;
    const codes = await Promise.all([
      refusal(annotator.projects.create({ slug: 'made-by-annotator', name: 'Nope' })),
      refusal(annotator.projects.createUser({ email: 'new-user@test.local', password: 'long enough password', role: 'admin' })),
      refusal(annotator.projects.addMember({ project: slug, email: outsider.email, role: 'annotator' })),
      refusal(annotator.projects.overview({ project: slug })),
      refusal(annotator.exports.request({ project: slug })),
      refusal(annotator.exports.list({ project: slug })),
    ]);
    expect(codes).toEqual(Array(6).fill('FORBIDDEN'));
  });

  it('changes nothing with the refused calls', async () => {
    const { handle } = db.current;
    const admin = caller(platformAdmin);
    const overview = await admin.projects.overview({ project: project.slug });
    expect(overview.members.map((m) => m.email).sort()).toEqual([member.email, projectAdmin.email].sort());
    expect(await admin.exports.list({ project: project.slug })).toEqual([]);
    expect((await admin.projects.list()).map((p) => p.slug)).not.toContain('made-by-annotator');
    const users = await handle.sql`select 1 from users where email = 'new-user@test.local'`;
    expect(users).toHaveLength(0);
  });

  it('can see the project with its role, lease and submit', async () => {
    const annotator = caller(member);
    expect(await annotator.projects.get({ project: project.slug })).toMatchObject({ slug: project.slug, role: 'annotator' });
    expect((await annotator.projects.list()).map((p) => p.slug)).toEqual([project.slug]);

    const { items } = await annotator.annotation.lease({ project: project.slug, want: 1 });
    expect(items).toHaveLength(1);
    const [item] = items;
    expect(item!.responses).toHaveLength(2);
    const result = await annotator.annotation.submit(submission(item!.handle, 1));
    expect(result).toMatchObject({ duplicate: false });
    expect(await annotator.annotation.progress({ project: project.slug })).toMatchObject({ total: 1 });
  });
});

describe('a user outside the project', () => {
  it.each([
    ['annotator', () => outsider],
    ['reviewer', () => outsideReviewer],
  ])('reads nothing of it as a platform %s: NOT_FOUND, as if it did not exist', async (_role, who) => {
    const stranger = caller(who());
    const slug = project.slug;
    const codes = await Promise.all([
      refusal(stranger.projects.get({ project: slug })),
      refusal(stranger.projects.overview({ project: slug })),
      refusal(stranger.annotation.lease({ project: slug })),
      refusal(stranger.annotation.progress({ project: slug })),
      refusal(stranger.exports.list({ project: slug })),
      refusal(stranger.exports.request({ project: slug })),
      refusal(stranger.projects.addMember({ project: slug, email: who().email, role: 'admin' })),
    ]);
    expect(codes).toEqual(Array(7).fill('NOT_FOUND'));

    // The same answer as for a project that does not exist: the slug's existence does not leak.
    const missing = await rejection(stranger.projects.get({ project: 'no-such-project' }));
    const existing = await rejection(stranger.projects.get({ project: slug }));
    expect(existing.message.replace(slug, 'X')).toBe(missing.message.replace('no-such-project', 'X'));

    expect((await stranger.projects.list()).map((p) => p.slug)).not.toContain(slug);
  });

  it('leases nothing and gains no membership from the refused calls', async () => {
    const { handle } = db.current;
    const rows = await handle.sql`
      select (select count(*)::int from assignments a join comparisons c on c.id = a.comparison_id
               where c.project_id = ${project.id} and a.annotator_id in (${outsider.id}, ${outsideReviewer.id})) as leases,
             (select count(*)::int from project_members
               where project_id = ${project.id} and user_id in (${outsider.id}, ${outsideReviewer.id})) as memberships`;
    expect(rows[0]).toEqual({ leases: 0, memberships: 0 });
  });

  it('cannot submit a judgment on another annotator’s assignment', async () => {
    const { items } = await caller(member).annotation.lease({ project: project.slug, want: 1 });
    const [item] = items;
    expect(item).toBeDefined();
    expect(await refusal(caller(outsider).annotation.submit(submission(item!.handle)))).toBe('NOT_FOUND');
    // Not even another member of the same project may submit it.
    expect(await refusal(caller(projectAdmin).annotation.submit(submission(item!.handle)))).toBe('NOT_FOUND');
    const [row] = await db.current.handle.sql`select count(*)::int as n from judgments where assignment_id = ${assignmentOfHandle(item!.handle, member.id)}`;
    expect(row).toEqual({ n: 0 });
    // The rightful annotator still can.
    await expect(caller(member).annotation.submit(submission(item!.handle))).resolves.toMatchObject({ duplicate: false });
  });
});

describe('admins', () => {
  it('a project admin (platform annotator) can see the overview and the exports', async () => {
    const admin = caller(projectAdmin);
    expect(await admin.projects.get({ project: project.slug })).toMatchObject({ role: 'admin' });
    const overview = await admin.projects.overview({ project: project.slug });
    expect(overview.project.slug).toBe(project.slug);
    expect(overview.counts.comparisons).toBe(4);
    const [stored] = await db.current.handle.sql<{ n: number }[]>`select count(*)::int as n from judgments where project_id = ${project.id}`;
    expect(overview.counts.judgments).toBe(stored!.n);
    expect(overview.members.map((m) => m.email)).toEqual(expect.arrayContaining([member.email, projectAdmin.email]));
    expect(await admin.exports.list({ project: project.slug })).toEqual([]);
  });

  it('a project admin can add members to their project, but cannot create projects or users', async () => {
    const admin = caller(projectAdmin);
    const newcomer = await makeUser(db.current.handle, 'annotator');
    await expect(admin.projects.addMember({ project: project.slug, email: newcomer.email, role: 'annotator' })).resolves.toEqual({ ok: true });
    expect(await caller(newcomer).projects.get({ project: project.slug })).toMatchObject({ role: 'annotator' });
    expect(await refusal(admin.projects.create({ slug: 'by-project-admin', name: 'Nope' }))).toBe('FORBIDDEN');
    expect(await refusal(admin.projects.createUser({ email: 'x@test.local', password: 'long enough password', role: 'annotator' }))).toBe('FORBIDDEN');
  });

  it('a platform admin can create a project and sees every project', async () => {
    const admin = caller(platformAdmin);
    const created = await admin.projects.create({ slug: 'created-by-admin', name: 'Created by admin', judgmentsRequired: 3 });
    expect(created).toMatchObject({ slug: 'created-by-admin', name: 'Created by admin', judgmentsRequired: 3 });
    const slugs = (await admin.projects.list()).map((p) => p.slug);
    expect(slugs).toEqual(expect.arrayContaining([project.slug, 'created-by-admin']));
    // Platform admins are admins in every project without being members.
    expect(await admin.projects.get({ project: project.slug })).toMatchObject({ role: 'admin' });
    // Nobody else sees the new project.
    expect((await caller(member).projects.list()).map((p) => p.slug)).not.toContain('created-by-admin');
  });

  it('a duplicate slug is a CONFLICT naming the slug', async () => {
    const admin = caller(platformAdmin);
    const error = await rejection(admin.projects.create({ slug: project.slug, name: 'Again' }));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toContain(project.slug);
  });
});

describe('bad input', () => {
  it('projects.create with a bad slug is a BAD_REQUEST naming the field and the reason', async () => {
    const error = await rejection(caller(platformAdmin).projects.create({ slug: 'Bad Slug!', name: 'Bad' }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.cause).toBeInstanceOf(ZodError);
    const [issue] = (error.cause as ZodError).issues;
    expect(issue?.path).toEqual(['slug']);
    expect(issue?.message).toMatch(/lower-case letters/);
    expect(error.message).toContain('slug');
    expect((await caller(platformAdmin).projects.list()).map((p) => p.slug)).not.toContain('Bad Slug!');
  });

  it('a bad value caught by a service is a BAD_REQUEST whose cause names the field', async () => {
    const error = await rejection(caller(platformAdmin).projects.createUser({ email: 'short-password@test.local', password: 'short', role: 'annotator' }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.cause).toBeInstanceOf(AppError);
    expect((error.cause as AppError).field).toBe('password');
    expect(error.message).toBe('password: must be at least 8 characters');
  });

  it('a bad submit (position out of range) is a BAD_REQUEST, not a 500', async () => {
    const { items } = await caller(member).annotation.lease({ project: project.slug, want: 1 });
    const handle = items[0]!.handle;
    const assignmentId = assignmentOfHandle(handle, member.id);
    // Beyond any comparison (positions are 0..7): refused by the procedure's schema.
    const outOfSchema = await rejection(caller(member).annotation.submit({ ...submission(handle), chosenPosition: 8 }));
    expect(outOfSchema.code).toBe('BAD_REQUEST');
    expect(outOfSchema.cause).toBeInstanceOf(ZodError);
    expect((outOfSchema.cause as ZodError).issues[0]?.path).toEqual(['chosenPosition']);
    // A valid position, but not for a pair (0 or 1): refused by the service, naming the field.
    const outOfPair = await rejection(caller(member).annotation.submit({ ...submission(handle), chosenPosition: 2 }));
    expect(outOfPair.code).toBe('BAD_REQUEST');
    expect(outOfPair.cause).toBeInstanceOf(AppError);
    expect((outOfPair.cause as AppError).field).toBe('chosenPosition');
    const [row] = await db.current.handle.sql`select count(*)::int as n from judgments where assignment_id = ${assignmentId}`;
    expect(row).toEqual({ n: 0 });
  });

  it('over HTTP, a service-level bad input reaches the client with its field and reason', async () => {
    const response = await viaHttp(platformAdmin, 'projects.createUser', { email: 'short2@test.local', password: 'short', role: 'annotator' });
    expect(response.status).toBe(400);
    expect(response.error).toMatchObject({ message: 'password: must be at least 8 characters', data: { code: 'BAD_REQUEST', field: 'password' } });
  });

  it('over HTTP, a procedure-level bad input reaches the client with its field and a readable reason', async () => {
    const response = await viaHttp(platformAdmin, 'projects.create', { slug: 'Bad Slug!', name: 'Bad' });
    expect(response.status).toBe(400);
    expect(response.error).toMatchObject({ data: { code: 'BAD_REQUEST', field: 'slug' } });
    expect(response.error.message).toMatch(/^slug: must be lower-case letters/);
  });
});

/** One tRPC mutation through the fetch adapter the web app mounts at /api/trpc (same router, same error formatter). */
async function viaHttp(user: TSessionUser | null, path: string, input: unknown) {
  const res = await fetchRequestHandler({
    endpoint: '/api/trpc',
    router: appRouter,
    req: new Request(`http://localhost/api/trpc/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(superjson.serialize(input)),
    }),
    createContext: () => ({
      db: db.current.handle,
      user,
      store: localArtifactStore('/tmp/pairwise-test-artifacts'),
      queue: () => Promise.reject(new Error('these calls enqueue nothing')),
    }),
    onError: () => {},
  });
  const body = (await res.json()) as { error?: { json: { message: string; data: Record<string, unknown> } } };
  return { status: res.status, error: body.error?.json ?? { message: '', data: {} } };
}
