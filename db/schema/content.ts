import { bigint, check, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { projects } from './projects';
import { users } from './users';
import { preferenceStrength } from './enums';

import type { TMessageRole } from './constants';
export { messageRoles, type TMessageRole } from './constants';

/** One chat message, in the OpenAI chat shape that Llama 3's roles (tool, ipython) extend. */
export interface TMessage {
  role: TMessageRole;
  content: string;
  name?: string;
  tool_calls?: { id?: string; type: 'function'; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

export const responseOrigin = pgEnum('response_origin', ['model', 'human', 'edit']);

/** A conversation context: the messages a response continues. Shared by comparisons with the same context. */
export const prompts = pgTable(
  'prompts',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    messages: jsonb().$type<TMessage[]>().notNull(),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    /** sha256 of the canonical messages: one row per distinct context in a project. */
    contentHash: text().notNull(),
    /** Tokens in the messages, filled in by the token-stats job (null until counted). */
    tokenCount: integer(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('prompts_project_hash_key').on(t.projectId, t.contentHash)],
);

export const responses = pgTable(
  'responses',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    promptId: bigint({ mode: 'number' })
      .notNull()
      .references(() => prompts.id, { onDelete: 'cascade' }),
    messages: jsonb().$type<TMessage[]>().notNull(),
    model: text(),
    origin: responseOrigin().notNull().default('model'),
    /** For edits: the response that was edited. */
    parentResponseId: bigint({ mode: 'number' }),
    authorId: bigint({ mode: 'number' }).references(() => users.id, { onDelete: 'set null' }),
    sampling: jsonb().$type<Record<string, unknown>>(),
    tokenCount: integer(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('responses_prompt_idx').on(t.promptId)],
);

export const comparisons = pgTable(
  'comparisons',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    promptId: bigint({ mode: 'number' })
      .notNull()
      .references(() => prompts.id, { onDelete: 'cascade' }),
    /** The id given in the imported file, if any; unique per project. */
    externalId: text(),
    /** sha256 of prompt and responses: re-importing the same content is a no-op. */
    contentHash: text().notNull(),
    judgmentsRequired: integer().notNull(),
    /** Submitted judgments, kept in step by submitJudgment so the queue needs no count. */
    judgmentCount: integer().notNull().default(0),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    /** Gold items: the canonical position (0 = first response) of the expected choice. */
    goldChoice: integer(),
    /** Gold items: the weakest strength still counted correct (null: any strength). */
    goldMinStrength: preferenceStrength(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('comparisons_gold_idx').on(t.projectId).where(sql`${t.goldChoice} is not null`),
    uniqueIndex('comparisons_project_external_id_key').on(t.projectId, t.externalId),
    uniqueIndex('comparisons_project_hash_key').on(t.projectId, t.contentHash),
    // The annotation queue scans only comparisons that still need judgments, in import order.
    index('comparisons_open_queue_idx')
      .on(t.projectId, t.id)
      .where(sql`${t.judgmentCount} < ${t.judgmentsRequired}`),
    check('comparisons_judgments_required_positive', sql`${t.judgmentsRequired} >= 1`),
  ],
);

/** The responses of a comparison in their canonical (import) order. */
export const comparisonResponses = pgTable(
  'comparison_responses',
  {
    comparisonId: bigint({ mode: 'number' })
      .notNull()
      .references(() => comparisons.id, { onDelete: 'cascade' }),
    position: integer().notNull(),
    responseId: bigint({ mode: 'number' })
      .notNull()
      .references(() => responses.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.comparisonId, t.position] }), index('comparison_responses_response_idx').on(t.responseId)],
);
