/** The training kinds that run on an executor: TRL's trainers and mergekit. */
export const trainingKinds = ['reward', 'sft', 'dpo', 'merge'] as const;
export type TTrainingKind = (typeof trainingKinds)[number];

/**
 * Schedule, precision, logging and checkpointing: the same for every TRL trainer of a round.
 * Checked against TRL 1.13 with transformers 5.x by TRL's own parser (tests/round):
 * - `warmup_ratio` is gone (transformers 5.2): a `warmup_steps` below 1 is a fraction of the steps;
 * - `dtype: bfloat16` loads the weights in bf16 (without it they load in float32, twice the memory);
 * - two checkpoints are kept (each holds the optimizer state, twice the model's size in fp32 Adam
 *   moments), enough to resume when the newest one was cut off mid-save.
 */
const trainerSchedule = {
  lr_scheduler_type: 'cosine',
  warmup_steps: 0.03,
  bf16: true,
  dtype: 'bfloat16',
  gradient_checkpointing: true,
  logging_steps: 10,
  save_strategy: 'steps',
  save_steps: 200,
  save_total_limit: 2,
  report_to: 'none',
} as const;

/** Held-out evaluation at the end of every epoch, on the version's test split. */
const heldOutEval = { eval_strategy: 'epoch', per_device_eval_batch_size: 1 } as const;

/**
 * Defaults follow Llama 3 (section 4.1) where the paper gives a value, and TRL's documented
 * defaults elsewhere. Batch sizes are per device and sized for 8,192-token sequences on 80 GB
 * GPUs under ZeRO-3 (docs/rounds.md has the arithmetic); the effective batch is
 * per_device_train_batch_size × gradient_accumulation_steps × processes (1 × 16 × 8 = 128).
 */
export const trainingDefaults = {
  reward: {
    // The paper gives no reward-model learning rate; 1e-5 over one epoch is TRL's reward example setting for a full fine-tune.
    learning_rate: 1.0e-5,
    num_train_epochs: 1,
    // A reward model has a one-number head instead of the vocabulary's logits: twice the sequences fit.
    per_device_train_batch_size: 2,
    gradient_accumulation_steps: 8,
    max_length: 8192,
    ...heldOutEval,
    ...trainerSchedule,
  },
  sft: {
    // Llama 3: "learning rate of 1e-5"; 8.5K-9K steps at 405B scale, so an epoch count is the portable choice.
    // The data is prompt/completion: TRL trains on the completion only, whatever the chat template
    // (assistant_only_loss works only with templates TRL patches, not Llama 3.1's).
    learning_rate: 1.0e-5,
    num_train_epochs: 2,
    per_device_train_batch_size: 1,
    gradient_accumulation_steps: 16,
    max_length: 8192,
    ...trainerSchedule,
  },
  dpo: {
    // Llama 3: lr 1e-5, beta 0.1, an NLL term on the chosen sequence with coefficient 0.2.
    // TRL removed rpo_alpha: the NLL term is a second loss with its weight.
    learning_rate: 1.0e-5,
    beta: 0.1,
    loss_type: ['sigmoid', 'sft'],
    loss_weights: [1.0, 0.2],
    num_train_epochs: 1,
    per_device_train_batch_size: 1,
    gradient_accumulation_steps: 16,
    max_length: 8192,
    ...heldOutEval,
    ...trainerSchedule,
  },
  merge: { merge_method: 'linear', dtype: 'bfloat16' },
} as const;

export const defaultGpus: Record<TTrainingKind, number> = { reward: 8, sft: 8, dpo: 8, merge: 0 };

/** Keys an admin may not override: they tie the config to the run's own files. */
export const managedKeys = new Set(['output_dir', 'datasets', 'dataset_name', 'model_name_or_path']);

/**
 * A YAML override typed as text where a number was meant (`5e-7` written as a string by a form
 * or a YAML 1.1 reader): numbers stay numbers, so the trainer never gets "5e-7" for a float.
 */
function coerceNumber(value: unknown): unknown {
  if (typeof value === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value.trim())) return Number(value);
  if (Array.isArray(value)) return value.map(coerceNumber);
  return value;
}

/** The admin's edits over the defaults: a value replaces, null removes; managed keys are kept. */
export function applyOverrides(base: Record<string, unknown>, overrides: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (managedKeys.has(key)) continue;
    if (value === null) delete out[key];
    else out[key] = coerceNumber(value);
  }
  return out;
}
