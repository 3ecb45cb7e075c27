import { bigint, check, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { userRole, users } from './users';

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
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('projects_slug_key').on(t.slug),
    check('projects_judgments_required_positive', sql`${t.judgmentsRequired} >= 1`),
    check('projects_lease_seconds_positive', sql`${t.leaseSeconds} >= 10`),
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
