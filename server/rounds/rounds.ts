/**
 * The rounds' public surface, for the router, the CLI and the worker's jobs. The pieces:
 * launch.ts (preview and launch), stage-specs.ts (what each stage runs), advance.ts (the round's
 * state machine: advance, cancel, retry, resume), executor-runs.ts (submit and poll of executor
 * runs), read-rounds.ts (lists and details); a run's row lifecycle is in server/runs/.
 */
export { advanceRound, cancelRound, resumeRounds, retryStage } from './advance';
export { defaultPollSeconds, latestCheckpointState, pollRun, submitRun } from './executor-runs';
export { launchRound, previewRound, type TLaunchRound, type TRoundPreview } from './launch';
export { getRound, listRounds, type TRoundDetail, type TRoundSummary } from './read-rounds';
export { buildStageSpec, isExecutorRun, specForRun, storedPlan, type TStageContext, type TStageSpec } from './stage-specs';
export { finishRun, markRunRunning } from '../runs/lifecycle';
export { requireRound, requireRun, type TRoundRow, type TRunRow } from '../runs/rows';
