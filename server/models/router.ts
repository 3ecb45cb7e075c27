import { z } from 'zod';
import { PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { adminProcedure, authedProcedure, router } from '../trpc';
import { listModels, listProjectModels, modelLineage, registerModel, setProjectModels } from './models';
import { ZRegisterModel } from './schemas';

const ZProjectRef = z.object({ project: z.string().min(1) });

/** The model registry (platform admins) and each live project's choice of models (project admins). */
export const modelsRouter = router({
  register: adminProcedure.input(ZRegisterModel).mutation(({ ctx, input }) => registerModel(ctx.db.db, input)),

  list: adminProcedure.query(({ ctx }) => listModels(ctx.db.db)),

  /** The model, the policy its round started from, and so on back to a registered base. */
  lineage: adminProcedure.input(z.object({ model: z.number().int().positive() })).query(({ ctx, input }) => modelLineage(ctx.db.db, input.model)),

  /** Every registered model with whether the project uses it: what a project admin chooses from. */
  forProject: authedProcedure.input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    const [all, chosen] = await Promise.all([listModels(ctx.db.db), listProjectModels(ctx.db.db, project.id)]);
    const chosenIds = new Set(chosen.map((m) => m.id));
    return all.map((m) => ({ id: m.id, name: m.name, apiModel: m.apiModel, kind: m.kind, enabled: m.enabled, selected: chosenIds.has(m.id) }));
  }),

  setForProject: authedProcedure
    .input(ZProjectRef.extend({ modelIds: z.array(z.number().int().positive()).max(100) }))
    .mutation(async ({ ctx, input }) => {
      const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
      const chosen = await setProjectModels(ctx.db.db, { projectId: project.id, modelIds: input.modelIds });
      return chosen.map((m) => ({ id: m.id, name: m.name }));
    }),
});
