import { z } from 'zod';
import { PROJECT_ADMIN } from '../auth/access';
import { adminProcedure, projectProcedure, router } from '../trpc';
import { listModels, listProjectModels, modelLineage, registerModel, setProjectModels } from './models';
import { ZRegisterModel } from './schemas';
import { requireProjectBySlug } from '../projects/projects';

/** The model registry (platform admins) and each live project's choice of models (project admins). */
export const modelsRouter = router({
  register: adminProcedure.meta({ audit: { action: 'model.register' } }).input(ZRegisterModel).mutation(({ ctx, input }) => registerModel(ctx.db.db, input)),

  list: adminProcedure.query(({ ctx }) => listModels(ctx.db.db)),

  /** The model, the policy its round started from, and so on back to a registered base. */
  lineage: adminProcedure.input(z.object({ model: z.number().int().positive() })).query(({ ctx, input }) => modelLineage(ctx.db.db, input.model)),

  /** Every registered model with whether the project uses it: what a project admin chooses from. */
  forProject: projectProcedure(PROJECT_ADMIN).query(async ({ ctx }) => {
    const [all, chosen] = await Promise.all([listModels(ctx.db.db), listProjectModels(ctx.db.db, ctx.project.id)]);
    const chosenIds = new Set(chosen.map((m) => m.id));
    return all.map((m) => ({ id: m.id, name: m.name, apiModel: m.apiModel, kind: m.kind, enabled: m.enabled, selected: chosenIds.has(m.id) }));
  }),

  setForProject: projectProcedure(PROJECT_ADMIN)
    .meta({
      audit: {
        action: 'project.models',
        before: async ({ db }, input) => (await listProjectModels(db, (await requireProjectBySlug(db, String(input.project))).id)).map((m) => ({ id: m.id, name: m.name })),
      },
    })
    .input(z.object({ modelIds: z.array(z.number().int().positive()).max(100) }))
    .mutation(async ({ ctx, input }) => {
      const chosen = await setProjectModels(ctx.db.db, { projectId: ctx.project.id, modelIds: input.modelIds });
      return chosen.map((m) => ({ id: m.id, name: m.name }));
    }),
});
