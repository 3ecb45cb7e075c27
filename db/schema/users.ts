import { bigint, pgEnum, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** Platform-wide role. Project roles (see projects.ts) narrow what a user may do inside one project. */
export const userRole = pgEnum('user_role', ['admin', 'reviewer', 'annotator']);

export const users = pgTable(
  'users',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** Stored lower-cased; sign-in lower-cases what the user types. */
    email: text().notNull(),
    name: text(),
    passwordHash: text().notNull(),
    role: userRole().notNull().default('annotator'),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** Set while the account is disabled: no sign-in, no session, no API token works. */
    disabledAt: timestamp({ withTimezone: true }),
    /**
     * Sessions that signed in before this instant are refused (sign out everywhere, disabling).
     * Kept to the millisecond, the precision of the sign-in time a session carries.
     */
    sessionsValidAfter: timestamp({ withTimezone: true }),
    lastSignInAt: timestamp({ withTimezone: true }),
  },
  (t) => [uniqueIndex('users_email_key').on(t.email)],
);
