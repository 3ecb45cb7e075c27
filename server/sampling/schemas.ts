import { z } from 'zod';

const id = z.number().int().positive();

/** Which prompts a run answers: the union of a project's prompts, a dataset version's and a list. */
export const ZPromptSelection = z
  .object({
    projectSlug: z.string().trim().min(1).optional(),
    datasetVersionId: id.optional(),
    /** Only the prompts of this split of the (preference) version: a round samples from train and evaluates on test. */
    split: z.enum(['train', 'test']).optional(),
    promptIds: z.array(id).max(1_000_000).optional(),
  })
  .refine((s) => s.projectSlug !== undefined || s.datasetVersionId !== undefined || (s.promptIds?.length ?? 0) > 0, {
    message: 'name the prompts: projectSlug, datasetVersionId or promptIds',
  });
export type TPromptSelection = z.output<typeof ZPromptSelection>;

export const ZSamplingOverride = z
  .object({
    temperature: z.number().min(0).max(5).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    max_tokens: z.number().int().positive().max(1_000_000).optional(),
  });

/** What the worker-side runs share: request concurrency and the retry policy. */
const runSettings = {
  sampling: ZSamplingOverride.optional(),
  /** Requests in flight at once across the whole run (chat and scoring). */
  concurrency: z.number().int().min(1).max(1024).default(8),
  /** Retries of one request after its first attempt. */
  maxRetries: z.number().int().min(0).max(20).default(5),
  /** Bound on one request, in milliseconds. */
  requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(120_000),
};

/**
 * A rejection-sampling run (Llama 3, section 4.2.2): K samples per prompt from the policy, each
 * scored by the reward model, the best kept as SFT data. System prompts steer tone and format:
 * sample i gets systemPrompts[i mod length].
 */
export const ZRejectionSamplingSpec = z
  .object({
    policyModelId: id,
    rewardModelId: id,
    prompts: ZPromptSelection,
    k: z.number().int().min(1).max(256).default(10),
    systemPrompts: z.array(z.string().trim().min(1)).max(256).optional(),
    /** Keep every sample's text in run_items (scores are always kept); off by default: K texts per prompt add up. */
    keepSamples: z.boolean().default(false),
    /** Name of the SFT dataset version; default "rejection sampling, run <id>". */
    versionName: z.string().trim().min(1).max(200).optional(),
    ...runSettings,
  });
export type TRejectionSamplingSpec = z.output<typeof ZRejectionSamplingSpec>;
export type TRejectionSamplingSpecInput = z.input<typeof ZRejectionSamplingSpec>;

/**
 * A generation run: each prompt answered by policies, the answers paired into comparisons of
 * two different models in the target project (the next round's annotation).
 */
export const ZGenerationSpec = z
  .object({
    policyModelIds: z
      .array(id)
      .min(2, 'generation pairs two different models: give two or more')
      .max(64)
      .refine((ids) => new Set(ids).size === ids.length, 'the models must be different'),
    prompts: ZPromptSelection,
    /** The project the comparisons go to. */
    projectSlug: z.string().trim().min(1),
    /** every pair of models per prompt, or one pair drawn per prompt (seeded). */
    pairing: z.enum(['all-pairs', 'random-pair']).default('random-pair'),
    /** Seed of the random pairs and response order; default the run id. */
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    ...runSettings,
  });
export type TGenerationSpec = z.output<typeof ZGenerationSpec>;
export type TGenerationSpecInput = z.input<typeof ZGenerationSpec>;
