import { bigint, index, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { projects } from './projects';
import { users } from './users';

export const apiTokenAccess = pgEnum('api_token_access', ['read', 'write']);

/**
 * A bearer token for scripts (/api/v1). Only the sha256 of the secret is stored: tokens are
 * 256 random bits, so a fast hash is enough and lookups stay one index probe. `prefix` (the
 * first characters) lets admins tell tokens apart without the secret.
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    name: text().notNull(),
    tokenHash: text().notNull(),
    prefix: text().notNull(),
    access: apiTokenAccess().notNull().default('read'),
    createdBy: bigint({ mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }),
    lastUsedAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [uniqueIndex('api_tokens_hash_key').on(t.tokenHash), index('api_tokens_created_by_idx').on(t.createdBy)],
);

/** The projects a token may reach. */
export const apiTokenProjects = pgTable(
  'api_token_projects',
  {
    tokenId: bigint({ mode: 'number' })
      .notNull()
      .references(() => apiTokens.id, { onDelete: 'cascade' }),
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.projectId] }), index('api_token_projects_project_idx').on(t.projectId)],
);
