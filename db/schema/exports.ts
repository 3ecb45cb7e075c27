import { bigint, index, integer, pgEnum, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { projects } from './projects';
import { users } from './users';

export const exportStatus = pgEnum('export_status', ['queued', 'running', 'succeeded', 'failed']);
export const exportFormat = pgEnum('export_format', ['trl', 'trl-implicit', 'openai', 'hh-rlhf', 'sft', 'parquet']);

/** An export requested in the UI and produced by the worker into the artifact store. */
export const exports = pgTable(
  'exports',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    format: exportFormat().notNull(),
    status: exportStatus().notNull().default('queued'),
    requestedBy: bigint({ mode: 'number' }).references(() => users.id, { onDelete: 'set null' }),
    rowCount: integer(),
    /** Key of the file in the artifact store, once written. */
    artifactKey: text(),
    error: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index('exports_project_created_idx').on(t.projectId, t.createdAt)],
);
