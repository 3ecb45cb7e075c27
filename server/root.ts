import { annotationRouter } from './annotation/router';
import { apiTokensRouter } from './api-tokens/router';
import { auditRouter } from './audit/router';
import { datasetsRouter } from './datasets/router';
import { executorsRouter } from './executors/router';
import { exportsRouter } from './exports/router';
import { liveRouter } from './live/router';
import { modelsRouter } from './models/router';
import { projectsRouter } from './projects/router';
import { dataStatsRouter } from './quality/data-stats-router';
import { qualityRouter } from './quality/router';
import { annotatorsRouter } from './quality/annotators-router';
import { reviewsRouter } from './quality/reviews-router';
import { roundsRouter } from './rounds/router';
import { createCallerFactory, router } from './trpc';
import { usersRouter } from './users/router';

export const appRouter = router({
  projects: projectsRouter,
  annotation: annotationRouter,
  exports: exportsRouter,
  quality: qualityRouter,
  dataStats: dataStatsRouter,
  annotators: annotatorsRouter,
  reviews: reviewsRouter,
  models: modelsRouter,
  live: liveRouter,
  datasets: datasetsRouter,
  apiTokens: apiTokensRouter,
  rounds: roundsRouter,
  executors: executorsRouter,
  audit: auditRouter,
  users: usersRouter,
});

export type TAppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
