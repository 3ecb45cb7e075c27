import { bigint, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { projects } from './projects';
import { users } from './users';

/**
 * What admins did: one row per change of settings, guidelines, members, roles, users, tokens,
 * models, executors, rounds, dataset builds and gold, from the web app, the REST API or the CLI.
 * Append-only. `actor` keeps the email (or "cli:<os user>") as it was, so the row still says who
 * after the account is gone; `before` / `after` hold the changed object, secrets removed.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
    actorUserId: bigint({ mode: 'number' }).references(() => users.id, { onDelete: 'set null' }),
    actor: text().notNull(),
    /** Where the change came from: web, api (a token), cli. */
    via: text().notNull(),
    /** e.g. project.settings, member.remove, executor.update, cli:round launch. */
    action: text().notNull(),
    projectId: bigint({ mode: 'number' }).references(() => projects.id, { onDelete: 'set null' }),
    /** What was changed, e.g. "executor 3", "user ann@example.com". */
    target: text(),
    before: jsonb(),
    after: jsonb(),
  },
  (t) => [index('audit_events_at_idx').on(t.at), index('audit_events_project_at_idx').on(t.projectId, t.at), index('audit_events_action_at_idx').on(t.action, t.at)],
);
