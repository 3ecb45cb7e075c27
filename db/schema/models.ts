import { bigint, boolean, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { projects } from './projects';

export const modelKind = pgEnum('model_kind', ['policy', 'reward']);

/**
 * How a model is reached: an OpenAI-compatible /chat/completions endpoint (policies), vLLM's
 * pooling /classify endpoint (reward models, raw scores), a local ONNX reward model read by
 * transformers.js (artifactUri), or not served (a checkpoint registered by a training run).
 */
export const modelServing = pgEnum('model_serving', ['openai', 'vllm-classify', 'onnx-local', 'none']);

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
    serving: modelServing().notNull().default('openai'),
    /** Where the weights are: s3://..., file://..., or a hub id. */
    artifactUri: text(),
    /** The model this one was trained from (a hub id or another entry's artifact). */
    baseModel: text(),
    /** Lineage: the round and run that produced it, and the dataset versions it was trained on. */
    roundId: bigint({ mode: 'number' }),
    runId: bigint({ mode: 'number' }),
    datasetVersionIds: bigint({ mode: 'number' }).array().notNull().default(sql`'{}'::bigint[]`),
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
