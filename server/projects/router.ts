import { z } from 'zod';
import type { TDbHandle } from '@/db/client';
import { ANY_MEMBER, PROJECT_ADMIN } from '../auth/access';
import { adminProcedure, authedProcedure, projectProcedure, router } from '../trpc';
import { createUser, requireUserByEmail } from '../users/users';
import { ZEmail, ZRole } from '../users/schemas';
import { getLatestGuidelines, saveGuidelines } from '../guidelines/guidelines';
import { removeMember, setMemberRole } from './members';
import { createProject, getProjectCounts, listMembers, listProjectsForUser, requireProjectBySlug, updateProject } from './projects';
import { ZCreateProject, ZUpdateProject } from './schemas';

/** The member's role before a change (null: not a member), for the audit log. */
async function memberRoleBefore({ db }: TDbHandle, input: Record<string, unknown>) {
  const project = await requireProjectBySlug(db, String(input.project));
  const email = String(input.email ?? '').trim().toLowerCase();
  const member = (await listMembers(db, project.id)).find((m) => m.email === email);
  return { email, role: member?.role ?? null };
}

export const projectsRouter = router({
  list: authedProcedure.query(({ ctx }) => listProjectsForUser(ctx.db.db, ctx.user)),

  get: projectProcedure(ANY_MEMBER).query(async ({ ctx }) => {
    const { project, projectRole: role } = ctx;
    return {
      slug: project.slug,
      name: project.name,
      description: project.description,
      role,
      judgmentsRequired: project.judgmentsRequired,
      rules: { editMode: project.editMode, allowTies: project.allowTies, rankingStrength: project.rankingStrength },
      live: project.live,
    };
  }),

  overview: projectProcedure(PROJECT_ADMIN).query(async ({ ctx }) => {
    const { project } = ctx;
    const [counts, members] = await Promise.all([getProjectCounts(ctx.db.db, project.id), listMembers(ctx.db.db, project.id)]);
    return { project, counts, members };
  }),

  update: projectProcedure(PROJECT_ADMIN)
    .meta({ audit: { action: 'project.settings', before: ({ db }, input) => requireProjectBySlug(db, String(input.project)) } })
    .input(z.object({ settings: ZUpdateProject }))
    .mutation(async ({ ctx, input }) => {
      return updateProject(ctx.db.db, ctx.project.id, input.settings);
  }),

  guidelines: projectProcedure(PROJECT_ADMIN).query(async ({ ctx }) => {
    return getLatestGuidelines(ctx.db.db, ctx.project.id);
  }),

  saveGuidelines: projectProcedure(PROJECT_ADMIN)
    .meta({ audit: { action: 'project.guidelines', before: async ({ db }, input) => getLatestGuidelines(db, (await requireProjectBySlug(db, String(input.project))).id) } })
    .input(z.object({ body: z.string().max(200_000) }))
    .mutation(async ({ ctx, input }) => {
      return saveGuidelines(ctx.db.db, { projectId: ctx.project.id, body: input.body, userId: ctx.user.id });
  }),

  create: adminProcedure.meta({ audit: { action: 'project.create' } }).input(ZCreateProject).mutation(({ ctx, input }) => createProject(ctx.db.db, input)),

  addMember: projectProcedure(PROJECT_ADMIN)
    .meta({ audit: { action: 'member.add', before: memberRoleBefore } })
    .input(z.object({ email: ZEmail, role: ZRole }))
    .mutation(async ({ ctx, input }) => {
      const user = await requireUserByEmail(ctx.db.db, input.email);
      await setMemberRole(ctx.db.db, { projectId: ctx.project.id, userId: user.id, email: user.email, role: input.role, byPlatformAdmin: ctx.user.role === 'admin' });
      return { ok: true as const };
    }),

  removeMember: projectProcedure(PROJECT_ADMIN)
    .meta({ audit: { action: 'member.remove', before: memberRoleBefore } })
    .input(z.object({ email: ZEmail }))
    .mutation(async ({ ctx, input }) => {
    const user = await requireUserByEmail(ctx.db.db, input.email);
    await removeMember(ctx.db.db, { projectId: ctx.project.id, userId: user.id, email: user.email, byPlatformAdmin: ctx.user.role === 'admin' });
    return { ok: true as const };
  }),

  createUser: adminProcedure
    .meta({ audit: { action: 'user.create' } })
    .input(z.object({ email: ZEmail, password: z.string(), role: ZRole }))
    .mutation(({ ctx, input }) => createUser(ctx.db.db, input)),
});
