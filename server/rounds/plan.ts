import { z } from 'zod';
import { ZEnvVarName, ZSampling } from '../models/schemas';
import { distributedStrategies } from './distributed';
import { trainingDefaults } from './trainer-defaults';

/** The stages of a round, in the order they run. Merge, deploy and generate are optional; the others always run. */
export const stageKinds = ['reward', 'rejection-sampling', 'sft', 'dpo', 'merge', 'eval', 'register', 'deploy', 'generate'] as const;
export type TStageKind = (typeof stageKinds)[number];

const ZConfigOverrides = z.record(z.string(), z.unknown()).default({});
const ZGpus = z.number().int().min(0).max(1024);

function isHttpUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Where a model produced by the round will be served once an admin deploys it (vLLM, TGI, ...). */
export const ZServingEndpoint = z.object({
  baseUrl: z.string().trim().refine(isHttpUrl, 'must be an http or https URL such as http://gpu-1:8000/v1'),
  apiModel: z.string().trim().min(1, 'must not be empty').max(200),
  apiKeyEnv: ZEnvVarName.optional(),
});
export type TServingEndpoint = z.infer<typeof ZServingEndpoint>;

const ZSamplingMode = z.enum(['host', 'endpoint']).default('host');

const ZMergeSource = z.union([z.enum(['dpo', 'sft', 'policy']), z.string().trim().regex(/^(s3|file|gs|hf):\/\/|^[\w.-]+\/[\w.-]+$/, 'must be dpo, sft, policy, a URI or a hub id')]);

/**
 * A round's plan as an admin writes it; every field has a Llama 3 default. Each training
 * stage's `config` holds the admin's edits over the generated TRL / mergekit config (a value of
 * null removes a key); the run's own files (datasets, output_dir, model) cannot be overridden.
 */
export const ZRoundPlan = z.object({
  /** The model the reward model starts from, and the policy's weights when the policy entry has no artifact. */
  baseModel: z.string().trim().min(1, 'must name the base model, e.g. meta-llama/Llama-3.1-8B-Instruct').max(500),
  reward: z
    .object({
      gpus: ZGpus.default(8),
      config: ZConfigOverrides,
      /**
       * Where the trained reward model will answer /classify (vLLM --runner pooling): needed only
       * when rejection sampling or evaluation runs in `endpoint` mode; host mode scores on the GPU host.
       */
      serving: ZServingEndpoint.extend({ kind: z.literal('vllm-classify').default('vllm-classify') }).optional(),
    })
    .default({ gpus: 8, config: {} }),
  rejectionSampling: z
    .object({
      /** host: a batch job on the executor over the checkpoints (no server needed); endpoint: the worker calls served models. */
      mode: ZSamplingMode,
      /** Llama 3: "typically between 10 and 30" samples per prompt. */
      k: z.number().int().min(1).max(100).default(10),
      systemPrompts: z.array(z.string().max(10_000)).max(50).optional(),
      sampling: ZSampling.optional(),
      concurrency: z.number().int().min(1).max(256).default(8),
      /** GPUs of the host job (vLLM tensor parallelism). */
      gpus: ZGpus.default(1),
    })
    .default({ mode: 'host', k: 10, concurrency: 8, gpus: 1 }),
  sft: z.object({ gpus: ZGpus.default(8), config: ZConfigOverrides }).default({ gpus: 8, config: {} }),
  dpo: z.object({ gpus: ZGpus.default(8), config: ZConfigOverrides }).default({ gpus: 8, config: {} }),
  merge: z
    .object({
      enabled: z.boolean().default(false),
      gpus: ZGpus.default(0),
      config: ZConfigOverrides,
      /** Checkpoints to average with their weights: this round's DPO or SFT output, the starting policy, or any URI. */
      models: z
        .array(z.object({ source: ZMergeSource, weight: z.number().positive().max(100) }))
        .min(1)
        .max(20)
        .default([
          { source: 'dpo', weight: 0.5 },
          { source: 'sft', weight: 0.5 },
        ]),
    })
    .default({ enabled: false, gpus: 0, config: {}, models: [{ source: 'dpo', weight: 0.5 }, { source: 'sft', weight: 0.5 }] }),
  eval: z
    .object({
      mode: ZSamplingMode,
      gpus: ZGpus.default(1),
      /** Held-out prompts (the preference version's test split) compared by the reward model. */
      maxPrompts: z.number().int().min(1).max(10_000).default(200),
      sampling: ZSampling.optional(),
      /** A project (slug) that receives new-vs-previous comparisons for human evaluation. */
      humanProject: z.string().trim().min(1).optional(),
      humanComparisons: z.number().int().min(0).max(10_000).default(100),
    })
    .default({ mode: 'host', gpus: 1, maxPrompts: 200, humanComparisons: 100 }),
  register: z.object({
    /** The registry name of the new policy. */
    name: z.string().trim().min(1, 'must not be empty').max(100),
    /** Where the new policy is served: endpoint-mode evaluation samples from it, and live generation can use it. */
    serving: ZServingEndpoint.optional(),
    /**
     * The gate: the new policy is registered only when evaluation found it better than the one
     * the round started from (the lower bound of the 95% interval of its win rate above 0.5). An
     * admin can register anyway by giving a reason, which is recorded with the model.
     */
    gate: z
      .object({
        minWinRateLow: z.number().min(0).max(1).default(0.5),
        overrideReason: z.string().trim().min(1).max(2000).optional(),
      })
      .default({ minWinRateLow: 0.5 }),
  }),
  /**
   * Serving the new policy once registered: a long-running job on the executor (vLLM's OpenAI
   * server where installed, `transformers serve` otherwise); when it answers /health its
   * endpoint becomes the model's, so live generation and the next round use it. The deployment
   * that served the policy the round started from is stopped (superseded) unless told otherwise.
   */
  deploy: z
    .object({
      enabled: z.boolean().default(false),
      gpus: ZGpus.default(1),
      port: z.number().int().min(1024).max(65535).default(8000),
      /** The address the worker reaches the job at: 127.0.0.1 for a local executor; a node or service name elsewhere. */
      host: z.string().trim().regex(/^[A-Za-z0-9.-]+$/, 'must be a host name or an IP address').optional(),
      healthTimeoutSeconds: z.number().int().min(10).max(24 * 3600).default(1800),
      stopSuperseded: z.boolean().default(true),
    })
    .default({ enabled: false, gpus: 1, port: 8000, healthTimeoutSeconds: 1800, stopSuperseded: true }),
  /**
   * The next round's comparisons, made on the GPU host from the checkpoints: the new policy and
   * its opponents (by default the policy the round started from; or registered models by name)
   * answer the prompts of a project, and the answers, paired across models, become comparisons in
   * the target project, as `npm run cli -- generate` makes them from served models.
   */
  nextRound: z
    .object({
      enabled: z.boolean().default(false),
      /** The project the comparisons go to. */
      project: z.string().trim().min(1).optional(),
      /** The project whose prompts are answered (default: the target project's own prompts). */
      promptsProject: z.string().trim().min(1).optional(),
      /** Opponents: "previous" (the policy the round started from) or registered model names. */
      opponents: z.array(z.string().trim().min(1)).min(1).max(16).default(['previous']),
      pairing: z.enum(['random-pair', 'all-pairs']).default('random-pair'),
      maxPrompts: z.number().int().min(1).max(1_000_000).default(1000),
      sampling: ZSampling.optional(),
      gpus: ZGpus.default(1),
    })
    .default({ enabled: false, opponents: ['previous'], pairing: 'random-pair', maxPrompts: 1000, gpus: 1 })
    .refine((n) => !n.enabled || n.project, { message: 'name the project the next round’s comparisons go to', path: ['project'] }),
  /**
   * Chat-format settings for the trainers. The pad token defaults to Llama 3's
   * <|finetune_right_pad_id|> for Llama 3 base models (TRL otherwise pads with eos, which moves
   * the reward model's score off the final <|eot_id|> that vLLM's /classify reads); null keeps TRL's default.
   */
  padToken: z.string().trim().min(1).max(200).nullable().optional(),
  /** How each training stage spreads over GPUs and nodes: see server/rounds/distributed.ts. */
  distributed: z
    .object({
      strategy: z.enum(distributedStrategies).default('auto'),
      nodes: z.number().int().min(1).max(512).default(1),
      /** Parameters in billions; default: read from the base model's name (8B, 70B, 405B). */
      modelParamsB: z.number().positive().max(10_000).optional(),
    })
    .default({ strategy: 'auto', nodes: 1 }),
});
export type TRoundPlanInput = z.input<typeof ZRoundPlan>;
export type TRoundPlan = z.output<typeof ZRoundPlan>;

/** The stages this plan runs, in order. */
export function planStages(plan: TRoundPlan): TStageKind[] {
  return stageKinds.filter((kind) => (kind !== 'merge' || plan.merge.enabled) && (kind !== 'deploy' || plan.deploy.enabled) && (kind !== 'generate' || plan.nextRound.enabled));
}

/** Stages that run on an executor (GPU hosts) under this plan; the others run in the worker. */
export function runsOnExecutor(plan: TRoundPlan, kind: TStageKind): boolean {
  if (kind === 'rejection-sampling') return plan.rejectionSampling.mode === 'host';
  if (kind === 'eval') return plan.eval.mode === 'host';
  return kind === 'reward' || kind === 'sft' || kind === 'dpo' || kind === 'merge' || kind === 'deploy' || kind === 'generate';
}

/** GPUs per node of the stage's executor job; worker-side stages use none. */
export function stageGpus(plan: TRoundPlan, kind: TStageKind): number {
  if (!runsOnExecutor(plan, kind)) return 0;
  if (kind === 'reward') return plan.reward.gpus;
  if (kind === 'sft') return plan.sft.gpus;
  if (kind === 'dpo') return plan.dpo.gpus;
  if (kind === 'merge') return plan.merge.gpus;
  if (kind === 'rejection-sampling') return plan.rejectionSampling.gpus;
  if (kind === 'eval') return plan.eval.gpus;
  if (kind === 'deploy') return plan.deploy.gpus;
  if (kind === 'generate') return plan.nextRound.gpus;
  return 0;
}

/** Llama 3 checkpoints pad with <|finetune_right_pad_id|>; other families keep TRL's default. */
export function padTokenFor(plan: Pick<TRoundPlan, 'padToken' | 'baseModel'>): string | null {
  if (plan.padToken !== undefined) return plan.padToken;
  return /llama[-_ ]?3/i.test(plan.baseModel) ? '<|finetune_right_pad_id|>' : null;
}

/** The Llama 3 defaults, for forms: what each training stage's config starts from. */
export const planDefaults = { trainingDefaults, rejectionSamplingK: 10, evalMaxPrompts: 200 };
