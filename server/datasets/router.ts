import { ANY_MEMBER, PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { authedProcedure, rateLimited, router } from '../trpc';
import { adminProjectIds, requireProjectsAllowed, requireVersionAccess } from './access';
import { cancelDatasetVersion, listDatasetVersions, parseSpec, requestDatasetVersion, requireDatasetVersion, resolveSpecProjects } from './datasets';
import { ZBuildDatasetVersion, ZListDatasetVersions, ZVersionRef } from './schemas';

export const datasetsRouter = router({
  // Versions whose every project the caller administers; the optional project filter must be one of theirs.
  list: authedProcedure.input(ZListDatasetVersions).query(async ({ ctx, input }) => {
    const allowed = await adminProjectIds(ctx.db.db, ctx.user);
    // A project the caller is not a member of answers as an unknown one does (NOT_FOUND), not with an empty list.
    const project = input.project ? (await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER)).project.id : null;
    return listDatasetVersions(ctx.db.db, { visibleProjects: allowed, limit: input.limit, before: input.before, project });
  }),

  get: authedProcedure.meta({ access: { kind: 'resource', roles: PROJECT_ADMIN, resource: "the version's projects" } }).input(ZVersionRef).query(async ({ ctx, input }) => {
    await requireVersionAccess(ctx.db.db, await adminProjectIds(ctx.db.db, ctx.user), input.version);
    return requireDatasetVersion(ctx.db.db, input.version);
  }),

  build: authedProcedure
    .meta({ access: { kind: 'resource', roles: PROJECT_ADMIN, resource: "the spec's projects" }, audit: { action: 'dataset.build' } })
    .use(rateLimited('dataset-builds'))
    .input(ZBuildDatasetVersion).mutation(async ({ ctx, input }) => {
    const spec = parseSpec(input.spec);
    const projectIds = await resolveSpecProjects(ctx.db.db, spec);
    requireProjectsAllowed(await adminProjectIds(ctx.db.db, ctx.user), projectIds, spec.projects);
    return requestDatasetVersion(ctx.db, await ctx.queue(), { name: input.name, spec, projectIds, createdBy: ctx.user.id });
  }),

  cancel: authedProcedure
    .meta({ access: { kind: 'resource', roles: PROJECT_ADMIN, resource: "the version's projects" }, audit: { action: 'dataset.cancel' } })
    .input(ZVersionRef).mutation(async ({ ctx, input }) => {
    await requireVersionAccess(ctx.db.db, await adminProjectIds(ctx.db.db, ctx.user), input.version);
    return cancelDatasetVersion(ctx.db.db, input.version);
  }),
});
