import { annotationRouter } from './annotation/router';
import { exportsRouter } from './exports/router';
import { liveRouter } from './live/router';
import { modelsRouter } from './models/router';
import { projectsRouter } from './projects/router';
import { createCallerFactory, router } from './trpc';

export const appRouter = router({
  projects: projectsRouter,
  annotation: annotationRouter,
  exports: exportsRouter,
  models: modelsRouter,
  live: liveRouter,
});

export type TAppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
