import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateApiToken, createApiToken } from '@/server/api-tokens/api-tokens';
import { signInWithPassword } from '@/server/auth/sign-in';
import { addMember, listMembers, type TProject } from '@/server/projects/projects';
import { getSessionUser } from '@/server/users/account-status';
import type { TSessionUser } from '@/server/users/schemas';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';

const db = setupTestDatabase();
const PASSWORD = 'correct horse battery'; // what makeUser sets

afterAll(async () => {
  await stopSharedQueue();
});

/** A browser session as the web app sees it: signed in once, its user re-read on every request. */
async function signIn(user: TSessionUser) {
  const result = await signInWithPassword(db.current.handle.db, { email: user.email, password: PASSWORD, address: null });
  if (!result.ok) throw new Error(`signing in ${user.email} failed: ${result.reason}`);
  return {
    signedInAt: result.signedInAt,
    /** The next request's tRPC caller, built as app/_trpc/context.ts builds it. */
    async request() {
      const current = await getSessionUser(db.current.handle.db, user.id, result.signedInAt);
      return callerFor(db.current.handle, db.current.url, current);
    },
  };
}

async function refusal(call: Promise<unknown>): Promise<TRPCError['code']> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof TRPCError)) throw new Error(`expected a TRPCError, got ${String(error)}`);
  return error.code;
}

let project: TProject;
let platformAdmin: TSessionUser;

beforeAll(async () => {
  platformAdmin = await makeUser(db.current.handle, 'admin');
  project = await makeProject(db.current.handle);
});

describe('sign out everywhere', () => {
  it('ends every session of the user at the next request, and a new sign-in works', async () => {
    const user = await makeUser(db.current.handle);
    await addMember(db.current.handle.db, { projectId: project.id, userId: user.id, role: 'annotator' });
    const laptop = await signIn(user);
    const phone = await signIn(user);
    await expect((await laptop.request()).projects.get({ project: project.slug })).resolves.toMatchObject({ role: 'annotator' });

    await (await phone.request()).users.signOutEverywhere();
    expect(await refusal((await laptop.request()).projects.get({ project: project.slug }))).toBe('UNAUTHORIZED');
    expect(await refusal((await phone.request()).projects.list())).toBe('UNAUTHORIZED');

    const again = await signIn(user);
    await expect((await again.request()).projects.get({ project: project.slug })).resolves.toMatchObject({ role: 'annotator' });
  });

  it('refuses a session that carries no sign-in time once sessions were revoked', async () => {
    const user = await makeUser(db.current.handle);
    expect(await getSessionUser(db.current.handle.db, user.id, undefined)).toMatchObject({ id: user.id });
    await callerFor(db.current.handle, db.current.url, platformAdmin).users.revokeSessions({ userId: user.id });
    expect(await getSessionUser(db.current.handle.db, user.id, undefined)).toBeNull();
  });
});

describe('disabling users', () => {
  it('ends sessions, refuses sign-in and API tokens, and enabling lets the user sign in again', async () => {
    const user = await makeUser(db.current.handle);
    await addMember(db.current.handle.db, { projectId: project.id, userId: user.id, role: 'admin' });
    const session = await signIn(user);
    const { secret } = await createApiToken(db.current.handle.db, user, { name: 'script', projects: [project.slug], access: 'read' });
    await expect(authenticateApiToken(db.current.handle.db, `Bearer ${secret}`)).resolves.toMatchObject({ userId: user.id });

    const admin = callerFor(db.current.handle, db.current.url, platformAdmin);
    await expect(admin.users.disable({ userId: user.id })).resolves.toMatchObject({ id: user.id, disabledAt: expect.any(Date) });
    expect(await refusal((await session.request()).projects.overview({ project: project.slug }))).toBe('UNAUTHORIZED');
    expect(await signInWithPassword(db.current.handle.db, { email: user.email, password: PASSWORD, address: null })).toEqual({ ok: false, reason: 'disabled' });
    await expect(authenticateApiToken(db.current.handle.db, `Bearer ${secret}`)).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/disabled/) });

    await admin.users.enable({ userId: user.id });
    expect(await refusal((await session.request()).projects.list())).toBe('UNAUTHORIZED'); // old sessions stay ended
    await expect((await signIn(user)).request().then((c) => c.projects.overview({ project: project.slug }))).resolves.toBeDefined();
    await expect(authenticateApiToken(db.current.handle.db, `Bearer ${secret}`)).resolves.toMatchObject({ userId: user.id });
  });

  it('is for platform admins only, and never disables the last active platform admin', async () => {
    const annotator = await makeUser(db.current.handle);
    expect(await refusal(callerFor(db.current.handle, db.current.url, annotator).users.disable({ userId: platformAdmin.id }))).toBe('FORBIDDEN');
    expect(await refusal(callerFor(db.current.handle, db.current.url, annotator).users.list())).toBe('FORBIDDEN');

    // Every other admin of this database is disabled first, so platformAdmin is the last one.
    const admin = callerFor(db.current.handle, db.current.url, platformAdmin);
    const second = await makeUser(db.current.handle, 'admin');
    for (const u of await admin.users.list()) if (u.role === 'admin' && u.id !== platformAdmin.id && !u.disabledAt) await admin.users.disable({ userId: u.id });
    const error = await admin.users.disable({ userId: platformAdmin.id }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/last active platform admin/) });
    await admin.users.enable({ userId: second.id });
    await expect(admin.users.disable({ userId: platformAdmin.id })).resolves.toMatchObject({ disabledAt: expect.any(Date) });
    await callerFor(db.current.handle, db.current.url, second).users.enable({ userId: platformAdmin.id });
  });
});

describe('project members', () => {
  it('removal revokes access at the next request; role changes apply at once', async () => {
    const admin = await makeUser(db.current.handle);
    const member = await makeUser(db.current.handle);
    const p = await makeProject(db.current.handle, { members: [{ user: admin, role: 'admin' }, { user: member, role: 'annotator' }] });
    const session = await signIn(member);
    expect(await refusal((await session.request()).projects.overview({ project: p.slug }))).toBe('FORBIDDEN');

    await addMember(db.current.handle.db, { projectId: p.id, userId: member.id, role: 'admin' });
    await expect((await session.request()).projects.overview({ project: p.slug })).resolves.toBeDefined();
    await addMember(db.current.handle.db, { projectId: p.id, userId: member.id, role: 'reviewer' });
    expect(await refusal((await session.request()).projects.overview({ project: p.slug }))).toBe('FORBIDDEN');

    await callerFor(db.current.handle, db.current.url, admin).projects.removeMember({ project: p.slug, email: member.email });
    expect(await refusal((await session.request()).projects.get({ project: p.slug }))).toBe('NOT_FOUND');
    expect((await listMembers(db.current.handle.db, p.id)).map((m) => m.email)).toEqual([admin.email]);
  });

  it('keeps the last project admin unless a platform admin removes them; only project admins remove', async () => {
    const admin = await makeUser(db.current.handle);
    const member = await makeUser(db.current.handle);
    const p = await makeProject(db.current.handle, { members: [{ user: admin, role: 'admin' }, { user: member, role: 'annotator' }] });
    expect(await refusal(callerFor(db.current.handle, db.current.url, member).projects.removeMember({ project: p.slug, email: admin.email }))).toBe('FORBIDDEN');
    const last = await callerFor(db.current.handle, db.current.url, admin).projects.removeMember({ project: p.slug, email: admin.email }).catch((e: unknown) => e);
    expect(last).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/last admin/) });
    const notMember = await callerFor(db.current.handle, db.current.url, admin).projects.removeMember({ project: p.slug, email: platformAdmin.email }).catch((e: unknown) => e);
    expect(notMember).toMatchObject({ code: 'NOT_FOUND' });
    // Demoting the last admin is refused the same way; promoting someone first makes it possible.
    const demoted = await callerFor(db.current.handle, db.current.url, admin).projects.addMember({ project: p.slug, email: admin.email, role: 'annotator' }).catch((e: unknown) => e);
    expect(demoted).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/last admin/) });
    await callerFor(db.current.handle, db.current.url, admin).projects.addMember({ project: p.slug, email: member.email, role: 'admin' });
    await callerFor(db.current.handle, db.current.url, admin).projects.addMember({ project: p.slug, email: admin.email, role: 'reviewer' });
    expect((await listMembers(db.current.handle.db, p.id)).map((m) => m.role).sort()).toEqual(['admin', 'reviewer']);
    await callerFor(db.current.handle, db.current.url, platformAdmin).projects.removeMember({ project: p.slug, email: admin.email });
    expect((await listMembers(db.current.handle.db, p.id)).map((m) => m.email)).toEqual([member.email]);
  });
});

describe('CLI', () => {
  const cli = (args: string[]) => runCli(args, { env: { ...process.env, DATABASE_URL: db.current.url, PAIRWISE_DATA_DIR: '/nonexistent-pairwise-data' } });

  it('lists, disables, enables and signs out users, and removes members', async () => {
    const user = await makeUser(db.current.handle);
    const admin = await makeUser(db.current.handle);
    const p = await makeProject(db.current.handle, { members: [{ user: admin, role: 'admin' }, { user, role: 'annotator' }] });
    const session = await signIn(user);

    const listed = await cli(['user', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${user.id}\\t${user.email}\\tannotator\\tactive\\tlast sign-in \\d{4}-`, 'm'));

    expect((await cli(['user', 'disable', '--email', user.email])).stdout).toContain(`disabled ${user.email}`);
    expect(await getSessionUser(db.current.handle.db, user.id, session.signedInAt)).toBeNull();
    expect((await cli(['user', 'list'])).stdout).toMatch(new RegExp(`${user.email}\\tannotator\\tdisabled since `));
    expect((await cli(['user', 'enable', '--email', user.email])).code).toBe(0);
    const fresh = await signIn(user);
    expect((await cli(['user', 'sign-out-everywhere', '--email', user.email])).stdout).toContain(`ended every session of ${user.email}`);
    expect(await getSessionUser(db.current.handle.db, user.id, fresh.signedInAt)).toBeNull();

    expect((await cli(['member', 'remove', '--project', p.slug, '--email', user.email])).stdout).toContain(`removed ${user.email} from ${p.slug}`);
    const last = await cli(['member', 'remove', '--project', p.slug, '--email', admin.email]);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toMatch(/last admin/);
    expect((await cli(['member', 'remove', '--project', p.slug, '--email', admin.email, '--force'])).code).toBe(0);
    expect(await listMembers(db.current.handle.db, p.id)).toEqual([]);

    const unknown = await cli(['user', 'disable', '--email', 'nobody@test.local']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no user with email nobody@test.local/);
  }, 240_000); // ten CLI processes, each loading the code through tsx
});

