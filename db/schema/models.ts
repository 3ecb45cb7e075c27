import { bigint, boolean, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { projects } from './projects';

export const modelKind = pgEnum('model_kind', ['policy', 'reward']);

/** Sampling parameters sent with every request to a policy endpoint (OpenAI names). */
export interface TSampling {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
}

/**
 * The model registry: what can answer prompts (policies, through an OpenAI-compatible
 * /chat/completions endpoint) or score them (reward models). The API key is never stored:
 * only the name of the environment variable that holds it on the server.
 */
export const models = pgTable(
  'models',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    name: text().notNull(),
    kind: modelKind().notNull().default('policy'),
    /** e.g. http://gpu-1:8000/v1 (vLLM) or https://api.openai.com/v1 */
    baseUrl: text().notNull(),
    /** The `model` field sent to the endpoint. */
    apiModel: text().notNull(),
    apiKeyEnv: text(),
    sampling: jsonb().$type<TSampling>().notNull().default({}),
    enabled: boolean().notNull().default(true),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('models_name_key').on(t.name)],
);

/** The models that answer in a live project. */
export const projectModels = pgTable(
  'project_models',
  {
    projectId: bigint({ mode: 'number' })
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    modelId: bigint({ mode: 'number' })
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.modelId] })],
);
