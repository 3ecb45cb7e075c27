import { ANY_MEMBER, requireProjectAccess } from '../auth/access';
import { authedProcedure, rateLimited, router } from '../trpc';
import { adminProjectIds, requireProjectsAllowed, requireVersionAccess } from './access';
import { cancelDatasetVersion, listDatasetVersions, parseSpec, requestDatasetVersion, requireDatasetVersion, resolveSpecProjects } from './datasets';
import { ZBuildDatasetVersion, ZListDatasetVersions, ZVersionRef } from './schemas';

export const datasetsRouter = router({
  list: authedProcedure.input(ZListDatasetVersions).query(async ({ ctx, input }) => {
    const allowed = await adminProjectIds(ctx.db.db, ctx.user);
    // A project the caller is not a member of answers as an unknown one does (NOT_FOUND), not with an empty list.
    const project = input.project ? (await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER)).project.id : null;
    return listDatasetVersions(ctx.db.db, { visibleProjects: allowed, limit: input.limit, before: input.before, project });
  }),

  get: authedProcedure.input(ZVersionRef).query(async ({ ctx, input }) => {
    await requireVersionAccess(ctx.db.db, await adminProjectIds(ctx.db.db, ctx.user), input.version);
    return requireDatasetVersion(ctx.db.db, input.version);
  }),

  build: authedProcedure.use(rateLimited('dataset-builds')).input(ZBuildDatasetVersion).mutation(async ({ ctx, input }) => {
    const spec = parseSpec(input.spec);
    const projectIds = await resolveSpecProjects(ctx.db.db, spec);
    requireProjectsAllowed(await adminProjectIds(ctx.db.db, ctx.user), projectIds, spec.projects);
    return requestDatasetVersion(ctx.db, await ctx.queue(), { name: input.name, spec, projectIds, createdBy: ctx.user.id });
  }),

  cancel: authedProcedure.input(ZVersionRef).mutation(async ({ ctx, input }) => {
    await requireVersionAccess(ctx.db.db, await adminProjectIds(ctx.db.db, ctx.user), input.version);
    return cancelDatasetVersion(ctx.db.db, input.version);
  }),
});
