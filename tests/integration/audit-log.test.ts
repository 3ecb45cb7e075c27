import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEventLine, auditEventPages } from '@/server/audit/audit';
import { createExecutor } from '@/server/executors/executors';
import type { TProject } from '@/server/projects/projects';
import type { TSessionUser } from '@/server/users/schemas';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';

const db = setupTestDatabase();
let project: TProject;
let platformAdmin: TSessionUser;
let projectAdmin: TSessionUser;
let annotator: TSessionUser;

beforeAll(async () => {
  const { handle } = db.current;
  [platformAdmin, projectAdmin, annotator] = await Promise.all([makeUser(handle, 'admin'), makeUser(handle, 'annotator'), makeUser(handle, 'annotator')]);
  project = await makeProject(handle, { judgmentsRequired: 1, members: [{ user: projectAdmin, role: 'admin' }] });
  await importLines(handle, project, comparisonLines(2, 'audit'));
});

afterAll(async () => {
  await stopSharedQueue();
});

const caller = (user: TSessionUser | null) => callerFor(db.current.handle, db.current.url, user);

async function events(action: string) {
  return (await caller(platformAdmin).audit.list({ action })).events;
}

describe('audit log of admin actions', () => {
  it('records who changed what, with the state before and after', async () => {
    await caller(projectAdmin).projects.update({ project: project.slug, settings: { judgmentsRequired: 3 } });
    const [event] = await events('project.settings');
    expect(event).toMatchObject({ actor: projectAdmin.email, actorUserId: projectAdmin.id, via: 'web', project: project.slug });
    expect((event!.before as { judgmentsRequired: number }).judgmentsRequired).toBe(1);
    expect((event!.after as { input: { settings: { judgmentsRequired: number } } }).input.settings.judgmentsRequired).toBe(3);

    await caller(projectAdmin).projects.addMember({ project: project.slug, email: annotator.email, role: 'annotator' });
    await caller(projectAdmin).projects.addMember({ project: project.slug, email: annotator.email, role: 'reviewer' });
    await caller(projectAdmin).projects.removeMember({ project: project.slug, email: annotator.email });
    const added = await events('member.add');
    expect(added.map((e) => (e.before as { role: string | null }).role)).toEqual(['annotator', null]);
    const [removed] = await events('member.remove');
    expect(removed).toMatchObject({ target: `email ${annotator.email}`, before: { email: annotator.email, role: 'reviewer' } });
  });

  it('never stores secrets: token secrets, passwords', async () => {
    const created = await caller(projectAdmin).apiTokens.create({ name: 'ci', projects: [project.slug], access: 'read' });
    await caller(platformAdmin).projects.createUser({ email: 'new-person@test.local', password: 'a very secret password', role: 'annotator' });
    const lines: string[] = [];
    for await (const page of auditEventPages(db.current.handle.db, {})) lines.push(...page.map(auditEventLine));
    const everything = lines.join('');
    expect(everything).not.toContain(created.secret);
    expect(everything).not.toContain('a very secret password');
    expect(everything).toContain('token.create');
    expect(everything).toContain('[redacted]');
  });

  it('records executors and gold, and nothing for refused or failed calls', async () => {
    const executor = await createExecutor(db.current.handle.db, { name: 'local-audit', kind: 'local', config: {}, enabled: true } as never);
    await caller(platformAdmin).executors.update({ id: executor.id, enabled: false });
    const [update] = await events('executor.update');
    expect(update).toMatchObject({ before: { enabled: true }, target: `id ${executor.id}` });

    const before = (await events('gold.mark')).length;
    await expect(caller(annotator).quality.markGold({ project: project.slug, comparisonId: 1, choice: 0 })).rejects.toBeInstanceOf(TRPCError);
    expect(await events('gold.mark')).toHaveLength(before);
  });

  it('is for platform admins only', async () => {
    await expect(caller(projectAdmin).audit.list({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(caller(null).audit.list({})).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('records changes made from the command line, and pages newest first', async () => {
    const result = await runCli(['member', 'add', '--project', project.slug, '--email', annotator.email, '--role', 'annotator'], {
      env: { ...process.env, DATABASE_URL: db.current.url },
    });
    expect(result.code, result.stderr).toBe(0);
    const [event] = await events('cli:member add');
    expect(event).toMatchObject({ via: 'cli', actorUserId: null, project: project.slug });
    expect(event!.actor).toMatch(/^cli:/);

    const listed = await runCli(['audit', 'list', '--limit', '3'], { env: { ...process.env, DATABASE_URL: db.current.url } });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split('\n')[0]).toContain('cli:member add');

    const first = await caller(platformAdmin).audit.list({ limit: 2 });
    const second = await caller(platformAdmin).audit.list({ limit: 2, cursor: first.nextBefore });
    expect(second.events[0]!.id).toBeLessThan(first.events[1]!.id);
  }, 120_000);
});
