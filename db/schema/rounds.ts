import { bigint, boolean, doublePrecision, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { datasetVersions } from './datasets';
import { models } from './models';
import { projects } from './projects';
import { prompts } from './content';
import { users } from './users';

export const executorKind = pgEnum('executor_kind', ['local', 'ray', 'kubernetes', 'slurm']);

/**
 * A configured place to run GPU work: a process on the worker host, a Ray cluster (Jobs REST
 * API) or a Kubernetes cluster (batch Jobs). Secrets are never stored: `config` names the
 * environment variables that hold them on the worker.
 */
export const executors = pgTable(
  'executors',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    name: text().notNull(),
    kind: executorKind().notNull(),
    /** Kind-specific settings, validated by server/executors (address, namespace, image, GPUs...). */
    config: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    enabled: boolean().notNull().default(true),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('executors_name_key').on(t.name)],
);

export const roundStatus = pgEnum('round_status', ['planned', 'running', 'succeeded', 'failed', 'cancelled']);

/**
 * One iteration of the loop: an ordered plan of stages (reward model, rejection sampling, SFT,
 * DPO, merge, evaluation, registration), each started when the previous one succeeds.
 */
export const rounds = pgTable(
  'rounds',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    name: text().notNull(),
    status: roundStatus().notNull().default('planned'),
    /** The stages with their settings, as launched (server/rounds/plan.ts). */
    plan: jsonb().$type<Record<string, unknown>>().notNull(),
    /** The policy this round starts from, and the preference data it trains on. */
    policyModelId: bigint({ mode: 'number' }).references(() => models.id, { onDelete: 'set null' }),
    datasetVersionId: bigint({ mode: 'number' }).references(() => datasetVersions.id, { onDelete: 'set null' }),
    executorId: bigint({ mode: 'number' }).references(() => executors.id, { onDelete: 'set null' }),
    /** Where human evaluation comparisons and the next round's comparisons go. */
    projectId: bigint({ mode: 'number' }).references(() => projects.id, { onDelete: 'set null' }),
    /** Index of the stage running now (or that failed). */
    currentStage: integer().notNull().default(0),
    error: text(),
    createdBy: bigint({ mode: 'number' }).references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index('rounds_created_idx').on(t.createdAt)],
);

export const runKind = pgEnum('run_kind', ['reward', 'rejection-sampling', 'sft', 'dpo', 'merge', 'generate', 'eval', 'register', 'deploy']);
export const runStatus = pgEnum('run_status', ['pending', 'submitted', 'running', 'succeeded', 'failed', 'cancelled']);

/**
 * One unit of GPU or generation work. Training runs go to an executor (`externalId` is the Ray
 * submission id, the Kubernetes Job name or the local process id); sampling, generation and
 * evaluation run in the worker. The queue jobs are short: a submit job, then polling jobs that
 * copy the remote state here. Nothing about a run lives only in a queue job.
 */
export const runs = pgTable(
  'runs',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    roundId: bigint({ mode: 'number' }).references(() => rounds.id, { onDelete: 'cascade' }),
    /** Position in the round's plan. */
    stage: integer(),
    kind: runKind().notNull(),
    status: runStatus().notNull().default('pending'),
    executorId: bigint({ mode: 'number' }).references(() => executors.id, { onDelete: 'set null' }),
    /** The exact config and command, as shown before launch (editable there). */
    spec: jsonb().$type<Record<string, unknown>>().notNull(),
    externalId: text(),
    attempt: integer().notNull().default(0),
    /** Artifact keys: the run's folder (config, logs, outputs). */
    artifactPrefix: text(),
    /** Parsed training metrics (TRL log_history), progress counters, evaluation results. */
    metrics: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    progressDone: integer().notNull().default(0),
    progressTotal: integer(),
    /** GPUs the run holds, every node together (a stage over 4 nodes of 8 GPUs holds 32). */
    gpus: integer().notNull().default(0),
    /** GPU time used: as the engine accounts it where it does (Slurm), else GPUs × seconds between start and end (or now, while running). */
    gpuSeconds: doublePrecision().notNull().default(0),
    inputVersionId: bigint({ mode: 'number' }).references(() => datasetVersions.id, { onDelete: 'set null' }),
    outputVersionId: bigint({ mode: 'number' }).references(() => datasetVersions.id, { onDelete: 'set null' }),
    outputModelId: bigint({ mode: 'number' }).references(() => models.id, { onDelete: 'set null' }),
    cancelRequested: boolean().notNull().default(false),
    error: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    submittedAt: timestamp({ withTimezone: true }),
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
    heartbeatAt: timestamp({ withTimezone: true }),
  },
  // runs_executor_idx: an executor's recent runs and GPU-hours (the Executors page) without scanning every run.
  (t) => [index('runs_round_idx').on(t.roundId, t.stage), index('runs_status_idx').on(t.status), index('runs_executor_idx').on(t.executorId, t.id)],
);

/**
 * Per-prompt results of worker-side runs (rejection sampling, generation, evaluation): what
 * makes them resumable after a crash (done prompts are never asked again) and auditable (every
 * sample's score is kept).
 */
export const runItems = pgTable(
  'run_items',
  {
    runId: bigint({ mode: 'number' })
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    promptId: bigint({ mode: 'number' })
      .notNull()
      .references(() => prompts.id, { onDelete: 'cascade' }),
    /** Samples with their scores, the chosen one, created response or comparison ids. */
    result: jsonb().$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('run_items_run_prompt_key').on(t.runId, t.promptId)],
);
