import { bigint, index, pgTable, timestamp } from 'drizzle-orm/pg-core';
import { comparisons, prompts } from './content';
import { projects } from './projects';
import { users } from './users';

/**
 * One turn of a live conversation: the annotator's prompt (with the conversation so far),
 * two different models answering it, and once both have answered, the comparison to judge.
 */
export const liveTurns = pgTable(
  'live_turns',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    annotatorId: bigint({ mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The turn this one continues (null for the first turn of a conversation). */
    parentTurnId: bigint({ mode: 'number' }),
    promptId: bigint({ mode: 'number' })
      .notNull()
      .references(() => prompts.id, { onDelete: 'cascade' }),
    /** The two models (ids in `models`), by side: index 0 is the first stream, not the shown order. */
    modelIds: bigint({ mode: 'number' }).array().notNull(),
    /** Each side's stored response once its stream completed (null until then). */
    responseIds: bigint({ mode: 'number' }).array().notNull(),
    comparisonId: bigint({ mode: 'number' }).references(() => comparisons.id, { onDelete: 'set null' }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('live_turns_annotator_idx').on(t.annotatorId, t.createdAt), index('live_turns_comparison_idx').on(t.comparisonId)],
);
