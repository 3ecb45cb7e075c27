import { bigint, boolean, check, index, integer, pgEnum, pgTable, primaryKey, real, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { userRole, users } from './users';

/** Whether annotators may (optional) or must (required) edit the chosen response. */
export const editMode = pgEnum('edit_mode', ['off', 'optional', 'required']);

export const projects = pgTable(
  'projects',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    slug: text().notNull(),
    name: text().notNull(),
    description: text().notNull().default(''),
    /** How many different annotators judge each comparison (copied onto comparisons at import). */
    judgmentsRequired: integer().notNull().default(1),
    /** How long an assignment is held for an annotator before it returns to the pool. */
    leaseSeconds: integer().notNull().default(900),
    editMode: editMode().notNull().default('optional'),
    /** Rankings (3+ responses): may responses share a rank? */
    allowTies: boolean().notNull().default(false),
    /** Rankings: ask the strength of preference between adjacent ranks. */
    rankingStrength: boolean().notNull().default(false),
    /** Live projects: annotators write prompts and registered models answer them. */
    live: boolean().notNull().default(false),
    /** Share of leases that are gold items, while the annotator has unseen gold items. */
    goldRate: real().notNull().default(0.1),
    /** Gold accuracy under which an annotator is flagged (once they have goldMinItems answers). */
    goldThreshold: real().notNull().default(0.7),
    goldMinItems: integer().notNull().default(5),
    /** Flagged annotators get no new comparisons until an admin lowers the bar or they improve. */
    pauseBelowGold: boolean().notNull().default(false),
    /** Share of judgments sampled into the review queue (besides flagged and conflicting ones). */
    reviewSampleRate: real().notNull().default(0.05),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('projects_slug_key').on(t.slug),
    check('projects_judgments_required_positive', sql`${t.judgmentsRequired} >= 1`),
    check('projects_lease_seconds_positive', sql`${t.leaseSeconds} >= 10`),
    check('projects_rates_are_shares', sql`${t.goldRate} between 0 and 1 and ${t.goldThreshold} between 0 and 1 and ${t.reviewSampleRate} between 0 and 1`),
  ],
);

export const projectMembers = pgTable(
  'project_members',
  {
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    userId: bigint({ mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: userRole().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.userId] }), index('project_members_user_idx').on(t.userId)],
);

/** Annotation guidelines, versioned: every save is a new version; judgments record theirs. */
export const projectGuidelines = pgTable(
  'project_guidelines',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    version: integer().notNull(),
    body: text().notNull(),
    createdBy: bigint({ mode: 'number' }).references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('project_guidelines_version_key').on(t.projectId, t.version)],
);

/** Which guidelines version an annotator last read; a newer version is shown again. */
export const guidelineReads = pgTable(
  'guideline_reads',
  {
    userId: bigint({ mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    version: integer().notNull(),
    readAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.projectId] })],
);
