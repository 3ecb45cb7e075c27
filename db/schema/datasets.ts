import { bigint, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { judgments } from './annotation';
import { projects } from './projects';
import { users } from './users';

export const datasetVersionStatus = pgEnum('dataset_version_status', ['queued', 'running', 'succeeded', 'failed', 'cancelled']);

/** What a version holds: preference pairs built from judgments, or SFT conversations (rejection sampling's output). */
export const datasetVersionKind = pgEnum('dataset_version_kind', ['preference', 'sft']);

/**
 * An immutable, hashed snapshot of curated preference pairs. The row records the request
 * (name, filter spec) and, once the worker has built it, the manifest and the content hash;
 * the pairs themselves live in the artifact store under `artifactPrefix`, so a later review
 * or a new judgment never changes a version that was already built.
 */
export const datasetVersions = pgTable(
  'dataset_versions',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    name: text().notNull(),
    kind: datasetVersionKind().notNull().default('preference'),
    /** The normalised filter spec (server/datasets/spec.ts): the same spec over the same data gives the same hash. */
    spec: jsonb().$type<Record<string, unknown>>().notNull(),
    status: datasetVersionStatus().notNull().default('queued'),
    /** Build progress: judgments read so far, out of `progressTotal`. */
    progressDone: integer().notNull().default(0),
    progressTotal: integer(),
    /** Counts, statistics, lineage and file list, written when the build succeeds. */
    manifest: jsonb().$type<Record<string, unknown>>(),
    /** sha256 over the version's canonical files: equal data and spec, equal hash. */
    contentHash: text(),
    artifactPrefix: text(),
    error: text(),
    createdBy: bigint({ mode: 'number' }).references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp({ withTimezone: true }),
    /** Renewed by the running build: a build whose heartbeat stopped (a killed worker) may be taken over. */
    heartbeatAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index('dataset_versions_created_idx').on(t.createdAt)],
);

/** The projects a version draws from: who may see it, and its lineage. */
export const datasetVersionProjects = pgTable(
  'dataset_version_projects',
  {
    versionId: bigint({ mode: 'number' })
      .notNull()
      .references(() => datasetVersions.id, { onDelete: 'cascade' }),
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.versionId, t.projectId] }), index('dataset_version_projects_project_idx').on(t.projectId)],
);

/** Lineage: every judgment a version's pairs came from ("which versions used this label?"). */
export const datasetVersionJudgments = pgTable(
  'dataset_version_judgments',
  {
    versionId: bigint({ mode: 'number' })
      .notNull()
      .references(() => datasetVersions.id, { onDelete: 'cascade' }),
    judgmentId: bigint({ mode: 'number' })
      .notNull()
      .references(() => judgments.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.versionId, t.judgmentId] }), index('dataset_version_judgments_judgment_idx').on(t.judgmentId)],
);
