import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { TArtifactStore } from '../artifacts/store';
import { streamVersionExport, type TVersionFormat, type TVersionSplit } from '../datasets/version-files';

/** The training kinds that run on an executor: TRL's trainers and mergekit. */
export const trainingKinds = ['reward', 'sft', 'dpo', 'merge'] as const;
export type TTrainingKind = (typeof trainingKinds)[number];

/** A dataset file a run reads: made from a dataset version and placed in the run's folder. */
export interface TRunInput {
  key: string;
  uri: string;
  description: string;
  /** What the file is built from; absent for inputs that are not dataset files. */
  source?: { versionId: number; format: TVersionFormat; split: TVersionSplit };
}

/**
 * Everything an executor needs for one training run, exactly as an admin sees it before launch:
 * the config (YAML-able), the YAML text written to the artifact store, and the command line.
 */
export interface TRunSpec {
  kind: TTrainingKind;
  config: Record<string, unknown>;
  configYaml: string;
  configKey: string;
  command: string[];
  gpus: number;
  inputs: TRunInput[];
  outputKey: string;
  outputUri: string;
}

/** Where a run's files live: `runs/<id>/`. A preview (no run yet) uses `runs/preview-<stage>/`. */
export function runKeys(runId: number | string) {
  const prefix = `runs/${runId}/`;
  return {
    prefix,
    config: `${prefix}config.yaml`,
    data: (name: string) => `${prefix}data/${name}.jsonl`,
    output: `${prefix}output`,
    trainerState: `${prefix}output/trainer_state.json`,
    log: (attempt: number) => `${prefix}logs/attempt-${attempt}.log`,
    result: `${prefix}result.json`,
  };
}

/** Schedule, precision, logging and checkpointing: the same for every TRL trainer of a round. */
const trainerSchedule = {
  lr_scheduler_type: 'cosine',
  warmup_ratio: 0.03,
  bf16: true,
  gradient_checkpointing: true,
  logging_steps: 10,
  save_strategy: 'steps',
  save_steps: 500,
  report_to: 'none',
} as const;

/**
 * Defaults follow Llama 3 (section 4.1) where the paper gives a value, and TRL's documented
 * defaults elsewhere. Batch sizes are per device; the effective batch is
 * per_device_train_batch_size × gradient_accumulation_steps × GPUs (8 × 4 × 8 = 256 pairs for DPO).
 */
export const trainingDefaults = {
  reward: {
    // The paper gives no reward-model learning rate; 1e-5 over one epoch is TRL's reward example setting for a full fine-tune.
    learning_rate: 1.0e-5,
    num_train_epochs: 1,
    per_device_train_batch_size: 8,
    gradient_accumulation_steps: 4,
    max_length: 4096,
    ...trainerSchedule,
  },
  sft: {
    // Llama 3: "learning rate of 1e-5"; 8.5K-9K steps at 405B scale, so an epoch count is the portable choice.
    learning_rate: 1.0e-5,
    num_train_epochs: 2,
    per_device_train_batch_size: 4,
    gradient_accumulation_steps: 8,
    max_length: 8192,
    // Only the assistant turns are learned, as in Llama 3's SFT (prompt tokens are masked).
    assistant_only_loss: true,
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
    per_device_train_batch_size: 8,
    gradient_accumulation_steps: 4,
    max_length: 8192,
    ...trainerSchedule,
  },
  merge: { merge_method: 'linear', dtype: 'bfloat16' },
} as const;

export const defaultGpus: Record<TTrainingKind, number> = { reward: 8, sft: 8, dpo: 8, merge: 0 };

/** Keys an admin may not override: they tie the config to the run's own files. */
const managedKeys = new Set(['output_dir', 'datasets', 'dataset_name', 'model_name_or_path']);

function applyOverrides(base: Record<string, unknown>, overrides: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (managedKeys.has(key)) continue;
    if (value === null) delete out[key];
    else out[key] = value;
  }
  return out;
}

export interface TTrlSpecInput {
  kind: 'reward' | 'sft' | 'dpo';
  /** `runs/<id>` for a run, `runs/preview-<stage>` for a preview. */
  runRef: number | string;
  /** The weights to start from: a hub id or a URI (for SFT the current policy, for DPO the SFT output). */
  modelNameOrPath: string;
  /** The dataset version trained on (train split). */
  versionId: number;
  versionKind: 'preference' | 'sft';
  gpus?: number;
  overrides?: Record<string, unknown>;
}

/** The export each trainer reads: implicit prompt for the reward model, explicit prompt for DPO, messages for SFT. */
const inputFormat: Record<'reward' | 'sft' | 'dpo', TVersionFormat> = { reward: 'trl-implicit', dpo: 'trl', sft: 'sft' };

function yamlOf(config: Record<string, unknown>): string {
  return stringify(config, { lineWidth: 0 });
}

/**
 * How a GPU host names a file. A file:// URI is a path on a filesystem the host shares with the
 * worker (the local executor, or a mounted volume): the trainer gets the plain path. s3:// stays
 * as it is where `datasets` reads it (through s3fs); configs, model weights and outputs are
 * copied by the run's command, since neither the TRL CLI nor transformers open s3:// paths.
 */
export function hostPath(uri: string): string {
  return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
}

function isRemote(uri: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file:');
}

function shellQuoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line. With a local or mounted store and local weights it is the tool itself;
 * otherwise a short shell script: fetch the config and s3:// weights to a scratch folder, run,
 * upload the output folder (the host needs the AWS CLI).
 */
function commandFor(tool: string[], configUri: string, outputUri: string, scratch: string, remoteModels: { uri: string; local: string }[], extraArgs: string[] = []): string[] {
  const remoteConfig = isRemote(configUri);
  const configPath = remoteConfig ? `${scratch}/config.yaml` : hostPath(configUri);
  if (!remoteConfig && remoteModels.length === 0) return [...tool, configPath, ...extraArgs];
  const q = shellQuoteArg;
  const steps = [
    'set -euo pipefail',
    `mkdir -p ${q(scratch)}`,
    ...(remoteConfig ? [`aws s3 cp ${q(configUri)} ${q(configPath)}`] : []),
    ...remoteModels.map((m) => `aws s3 sync ${q(m.uri)} ${q(m.local)}`),
    [...tool, configPath, ...extraArgs].map(q).join(' '),
    ...(isRemote(outputUri) ? [`aws s3 sync ${q(`${scratch}/output`)} ${q(outputUri)}`] : []),
  ];
  return ['bash', '-c', steps.join('\n')];
}

/** A TRL CLI run (`trl reward|sft|dpo --config <uri>`): config, YAML text, command and inputs. */
export function trlRunSpec(store: Pick<TArtifactStore, 'uri'>, input: TTrlSpecInput): TRunSpec {
  const keys = runKeys(input.runRef);
  const format = inputFormat[input.kind];
  // A preference version keeps its test split for evaluation; an SFT version (rejection sampling's output) is all training data.
  const split: TVersionSplit = input.versionKind === 'sft' ? 'all' : 'train';
  const inputs: TRunInput[] = [
    {
      key: keys.data('train'),
      uri: store.uri(keys.data('train')),
      description: `${input.versionKind} dataset version ${input.versionId}, ${split} split, ${format} format`,
      source: { versionId: input.versionId, format, split },
    },
  ];
  const outputUri = store.uri(keys.output);
  const scratch = `/tmp/pairwise-${String(input.runRef)}`;
  const remoteModel = input.modelNameOrPath.startsWith('s3://') ? [{ uri: input.modelNameOrPath, local: `${scratch}/model` }] : [];
  const config: Record<string, unknown> = {
    model_name_or_path: remoteModel.length ? remoteModel[0]!.local : hostPath(input.modelNameOrPath),
    // TRL's dataset mixture: a local JSONL file read by the `json` builder of `datasets`. The
    // mixture concatenates its entries into one training split, so the version's test split is
    // kept for the round's own evaluation stage instead of the trainer's.
    datasets: inputs.map((i) => ({ path: 'json', data_files: hostPath(i.uri), split: 'train' })),
    output_dir: isRemote(outputUri) ? `${scratch}/output` : hostPath(outputUri),
    ...applyOverrides({ ...trainingDefaults[input.kind] }, input.overrides),
  };
  const configYaml = yamlOf(config);
  return {
    kind: input.kind,
    config,
    configYaml,
    configKey: keys.config,
    command: commandFor(['trl', input.kind, '--config'], store.uri(keys.config), outputUri, scratch, remoteModel),
    gpus: input.gpus ?? defaultGpus[input.kind],
    inputs,
    outputKey: keys.output,
    outputUri: store.uri(keys.output),
  };
}

export interface TMergeSpecInput {
  runRef: number | string;
  /** Checkpoints to average, each with its weight (mergekit normalises the weights). */
  models: { uri: string; weight: number; description?: string }[];
  gpus?: number;
  overrides?: Record<string, unknown>;
}

/** A mergekit linear average (`mergekit-yaml <config> <output>`): Llama 3 averages models at each stage. */
export function mergeRunSpec(store: Pick<TArtifactStore, 'uri'>, input: TMergeSpecInput): TRunSpec {
  const keys = runKeys(input.runRef);
  const outputUri = store.uri(keys.output);
  const scratch = `/tmp/pairwise-${String(input.runRef)}`;
  const remote = input.models.flatMap((m, i) => (m.uri.startsWith('s3://') ? [{ uri: m.uri, local: `${scratch}/model-${i}` }] : []));
  const config: Record<string, unknown> = {
    ...applyOverrides({ ...trainingDefaults.merge }, input.overrides),
    models: input.models.map((m) => ({ model: remote.find((r) => r.uri === m.uri)?.local ?? hostPath(m.uri), parameters: { weight: m.weight } })),
  };
  const localOutput = isRemote(outputUri) ? `${scratch}/output` : hostPath(outputUri);
  const command = commandFor(['mergekit-yaml'], store.uri(keys.config), outputUri, scratch, remote, [localOutput]);
  return {
    kind: 'merge',
    config,
    configYaml: yamlOf(config),
    configKey: keys.config,
    command,
    gpus: input.gpus ?? defaultGpus.merge,
    inputs: input.models.map((m) => ({ key: '', uri: m.uri, description: m.description ?? 'checkpoint to average' })),
    outputKey: keys.output,
    outputUri,
  };
}

/**
 * An edited spec keeps its command and inputs; only the config is the admin's. The YAML is
 * always re-made from the config so the two never disagree.
 */
export function withConfig(spec: TRunSpec, config: Record<string, unknown>): TRunSpec {
  const merged: Record<string, unknown> = { ...config };
  for (const key of managedKeys) {
    if (key in spec.config) merged[key] = spec.config[key];
    else delete merged[key];
  }
  return { ...spec, config: merged, configYaml: yamlOf(merged) };
}

/**
 * Puts a run's inputs where the GPU host reads them: each dataset file streamed from its
 * version's export into `runs/<id>/data/`, and the config YAML. Idempotent: files are rewritten
 * whole (atomic writes), so a retried submit never sees half a file.
 */
export async function materializeRunInputs(store: TArtifactStore, spec: TRunSpec): Promise<{ key: string; bytes: number }[]> {
  const written: { key: string; bytes: number }[] = [];
  for (const input of spec.inputs) {
    if (!input.source) continue;
    const { bytes } = await store.write(input.key, streamVersionExport(store, input.source.versionId, { format: input.source.format, split: input.source.split }));
    written.push({ key: input.key, bytes });
  }
  const { bytes } = await store.write(spec.configKey, (async function* () {
    yield spec.configYaml;
  })());
  written.push({ key: spec.configKey, bytes });
  return written;
}
