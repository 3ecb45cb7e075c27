import { z } from 'zod';
import { ANY_MEMBER, PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { adminProcedure, authedProcedure, router } from '../trpc';
import { createUser, requireUserByEmail } from '../users/users';
import { ZEmail, ZRole } from '../users/schemas';
import { getLatestGuidelines, saveGuidelines } from '../guidelines/guidelines';
import { removeMember } from './members';
import { addMember, createProject, getProjectCounts, listMembers, listProjectsForUser, updateProject } from './projects';
import { ZCreateProject, ZUpdateProject } from './schemas';

const ZProjectRef = z.object({ project: z.string().min(1) });

export const projectsRouter = router({
  list: authedProcedure.query(({ ctx }) => listProjectsForUser(ctx.db.db, ctx.user)),

  get: authedProcedure.input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project, role } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
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

  overview: authedProcedure.input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    const [counts, members] = await Promise.all([getProjectCounts(ctx.db.db, project.id), listMembers(ctx.db.db, project.id)]);
    return { project, counts, members };
  }),

  update: authedProcedure.input(ZProjectRef.extend({ settings: ZUpdateProject })).mutation(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return updateProject(ctx.db.db, project.id, input.settings);
  }),

  guidelines: authedProcedure.input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return getLatestGuidelines(ctx.db.db, project.id);
  }),

  saveGuidelines: authedProcedure.input(ZProjectRef.extend({ body: z.string().max(200_000) })).mutation(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return saveGuidelines(ctx.db.db, { projectId: project.id, body: input.body, userId: ctx.user.id });
  }),

  create: adminProcedure.input(ZCreateProject).mutation(({ ctx, input }) => createProject(ctx.db.db, input)),

  addMember: authedProcedure
    .input(ZProjectRef.extend({ email: ZEmail, role: ZRole }))
    .mutation(async ({ ctx, input }) => {
      const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
      const user = await requireUserByEmail(ctx.db.db, input.email);
      await addMember(ctx.db.db, { projectId: project.id, userId: user.id, role: input.role });
      return { ok: true as const };
    }),

  removeMember: authedProcedure.input(ZProjectRef.extend({ email: ZEmail })).mutation(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    const user = await requireUserByEmail(ctx.db.db, input.email);
    await removeMember(ctx.db.db, { projectId: project.id, userId: user.id, email: user.email, byPlatformAdmin: ctx.user.role === 'admin' });
    return { ok: true as const };
  }),

  createUser: adminProcedure
    .input(z.object({ email: ZEmail, password: z.string(), role: ZRole }))
    .mutation(({ ctx, input }) => createUser(ctx.db.db, input)),
});
