import fs from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { TArtifactStore } from '../artifacts/store';
import type { TVersionFormat, TVersionSplit } from '../datasets/version-files';
import { accelerateConfig, launcherArgs, nodeRankEnv, resolveStrategy, type TDistributedPlan, type TResolvedStrategy } from './distributed';
import { hostPath, jobCommand, runFolder, shellQuoteArg, type TRemoteWeights } from './host-command';
import { applyOverrides, defaultGpus, managedKeys, trainingDefaults, type TTrainingKind } from './trainer-defaults';

export { trainingDefaults, trainingKinds, type TTrainingKind } from './trainer-defaults';

/** What runs on an executor: TRL's trainers, mergekit, and the host batch jobs (sampling, evaluation). */
export type TExecutorStageKind = TTrainingKind | 'rejection-sampling' | 'eval' | 'deploy' | 'generate';

/** What a run's input file is made from at submit time. */
export type TInputSource =
  /** A dataset version's download in a trainer format. */
  | { type: 'version'; versionId: number; format: TVersionFormat; split: TVersionSplit }
  /** The distinct prompts of a preference version's split, with their prompt ids (host sampling jobs). */
  | { type: 'prompts'; versionId: number; split: 'train' | 'test'; limit?: number }
  /** A preference version's held-out pairs with their strength, for the reward model's accuracy by strength. */
  | { type: 'pairs'; versionId: number; split: 'test' }
  /** A project's prompts with their ids, in id order (the next round's generation). */
  | { type: 'project-prompts'; projectSlug: string; limit: number };

/** A file a run reads: made at submit time and placed in the run's folder. */
export interface TRunInput {
  key: string;
  uri: string;
  description: string;
  /** What the file is built from; absent for inputs that are not made by the run (checkpoints). */
  source?: TInputSource;
}

/** A file written into the run's folder as it is: a generated text, or one of the host scripts (workers/host). */
export interface TRunFile {
  key: string;
  description: string;
  text?: string;
  hostScript?: string;
}

/**
 * Everything an executor needs for one run, exactly as an admin sees it before launch: the config
 * (its text as written to the store), the command line, the input files and the output folder.
 */
export interface TRunSpec {
  kind: TExecutorStageKind;
  config: Record<string, unknown>;
  configYaml: string;
  configKey: string;
  command: string[];
  /** GPUs per node. */
  gpus: number;
  nodes: number;
  strategy: TResolvedStrategy;
  inputs: TRunInput[];
  files: TRunFile[];
  outputKey: string;
  outputUri: string;
}

/** Where a run's files live: `runs/<id>/`. A preview (no run yet) uses `runs/preview-<stage>/`. */
export function runKeys(runId: number | string) {
  const prefix = `runs/${runId}/`;
  return {
    prefix,
    folder: `runs/${runId}`,
    config: `${prefix}config.yaml`,
    sampleConfig: `${prefix}sample.json`,
    scoreConfig: `${prefix}score.json`,
    heldOutPairs: `${prefix}heldout-pairs.jsonl`,
    heldOutScores: `${prefix}output/heldout_scores.jsonl`,
    accelerate: `${prefix}accelerate.yaml`,
    host: (script: string) => `${prefix}host/${script}`,
    dataDir: `${prefix}data`,
    data: (name: string) => `${prefix}data/${name}.jsonl`,
    output: `${prefix}output`,
    trainerState: `${prefix}output/trainer_state.json`,
    samples: `${prefix}output/samples.jsonl`,
    progress: `${prefix}output/progress.json`,
    log: (attempt: number) => `${prefix}logs/attempt-${attempt}.log`,
    result: `${prefix}result.json`,
  };
}

/** The folder of the Python the GPU hosts run (train.py, sample.py), copied into each run's folder. */
export const hostScriptsDir = path.join(process.cwd(), 'workers', 'host');

function yamlOf(config: Record<string, unknown>): string {
  return stringify(config, { lineWidth: 0 });
}

/** The weights a job starts from: a hub id or host path as it is, s3:// copied into the run's scratch folder first. */
export function weightsFor(uri: string, dir: string, name: string, remote: TRemoteWeights[]): string {
  if (!uri.startsWith('s3://')) return hostPath(uri);
  const local = `${dir}/${name}`;
  remote.push({ uri, local });
  return local;
}

export interface TTrlSpecInput {
  kind: 'reward' | 'sft' | 'dpo';
  /** `runs/<id>` for a run, `runs/preview-<stage>` for a preview. */
  runRef: number | string;
  /** The weights to start from: a hub id or a URI (for SFT the current policy, for DPO the SFT output). */
  modelNameOrPath: string;
  /** The dataset version trained on. */
  versionId: number;
  versionKind: 'preference' | 'sft';
  gpus?: number;
  /** The base model's name, for the distributed strategy's size rule. */
  baseModel?: string;
  distributed?: TDistributedPlan;
  /** Llama 3: <|finetune_right_pad_id|>; null keeps TRL's default (eos). */
  padToken?: string | null;
  overrides?: Record<string, unknown>;
}

/** The download each trainer reads: implicit prompt for the reward model, explicit prompt for DPO, prompt/completion for SFT. */
const inputFormat: Record<'reward' | 'sft' | 'dpo', TVersionFormat> = { reward: 'trl-implicit', dpo: 'trl', sft: 'sft-completion' };

/**
 * A TRL training run: `train.py <kind> --config config.yaml` (TRL's own script, see
 * workers/host/train.py), under `accelerate launch` when it has several processes. The dataset is
 * the folder `data/` with `train.jsonl` and, for a preference version, `test.jsonl`: `datasets`
 * maps the file names to splits, the trainer learns from train and evaluates on test (the reward
 * model's and DPO's held-out accuracy). An SFT version is all training data.
 */
export function trlRunSpec(store: Pick<TArtifactStore, 'uri'>, input: TTrlSpecInput): TRunSpec {
  const keys = runKeys(input.runRef);
  const folder = runFolder(store.uri(keys.folder), input.runRef);
  const format = inputFormat[input.kind];
  const splits: ('train' | 'test')[] = input.versionKind === 'sft' ? ['train'] : ['train', 'test'];
  const inputs: TRunInput[] = splits.map((split) => ({
    key: keys.data(split),
    uri: store.uri(keys.data(split)),
    description: `${input.versionKind} dataset version ${input.versionId}, ${split} split, ${format} format`,
    source: { type: 'version', versionId: input.versionId, format, split: input.versionKind === 'sft' ? 'all' : split },
  }));
  const gpus = input.gpus ?? defaultGpus[input.kind];
  const distributed = input.distributed ?? { strategy: 'auto', nodes: 1 };
  const strategy = resolveStrategy(distributed, input.baseModel ?? input.modelNameOrPath, gpus);
  const remote: TRemoteWeights[] = [];
  const defaults: Record<string, unknown> = { ...trainingDefaults[input.kind] };
  if (input.padToken) defaults.pad_token = input.padToken;
  if (splits.length === 1) {
    delete defaults.eval_strategy;
    delete defaults.per_device_eval_batch_size;
  }
  const config: Record<string, unknown> = {
    model_name_or_path: weightsFor(input.modelNameOrPath, folder.dir, 'model', remote),
    dataset_name: `${folder.dir}/data`,
    output_dir: `${folder.dir}/output`,
    ...applyOverrides(defaults, input.overrides),
  };
  const files: TRunFile[] = [{ key: keys.host('train.py'), description: 'runs TRL’s training script on the config', hostScript: 'train.py' }];
  if (strategy !== 'single') {
    files.push({ key: keys.accelerate, description: `accelerate launch config (${strategy}, ${gpus * distributed.nodes} processes)`, text: yamlOf(accelerateConfig(strategy, gpus, distributed.nodes)) });
  }
  let program = [...launcherArgs(strategy, `${folder.dir}/accelerate.yaml`, distributed.nodes), `${folder.dir}/host/train.py`, input.kind, '--config', `${folder.dir}/config.yaml`];
  if (input.kind === 'reward' && splits.includes('test')) {
    // After training, the first node scores the held-out pairs: accuracy by preference strength (Llama 3 reports it so).
    inputs.push({ key: keys.heldOutPairs, uri: store.uri(keys.heldOutPairs), description: `dataset version ${input.versionId}, test split pairs with their strength`, source: { type: 'pairs', versionId: input.versionId, split: 'test' } });
    files.push({ key: keys.host('sample.py'), description: 'scores the held-out pairs with the trained reward model', hostScript: 'sample.py' });
    files.push({
      key: keys.scoreConfig,
      description: 'held-out scoring settings',
      text: JSON.stringify({ pairs: `${folder.dir}/heldout-pairs.jsonl`, pairs_output: `${folder.dir}/output/heldout_scores.jsonl`, reward_model: `${folder.dir}/output`, engine: 'transformers' }, null, 2) + '\n',
    });
    const score = `if [ "\${${nodeRankEnv}:-0}" = 0 ]; then python3 ${folder.dir}/host/sample.py --config ${folder.dir}/score.json; fi`;
    program = ['bash', '-c', `${program.map(shellQuoteArg).join(' ')} && ${score}`];
  }
  return {
    kind: input.kind,
    config,
    configYaml: yamlOf(config),
    configKey: keys.config,
    command: jobCommand(folder, program, remote),
    gpus,
    nodes: strategy === 'single' ? 1 : distributed.nodes,
    strategy,
    inputs,
    files,
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
  const folder = runFolder(store.uri(keys.folder), input.runRef);
  const remote: TRemoteWeights[] = [];
  const config: Record<string, unknown> = {
    ...applyOverrides({ ...trainingDefaults.merge }, input.overrides),
    models: input.models.map((m, i) => ({ model: weightsFor(m.uri, folder.dir, `model-${i}`, remote), parameters: { weight: m.weight } })),
  };
  return {
    kind: 'merge',
    config,
    configYaml: yamlOf(config),
    configKey: keys.config,
    command: jobCommand(folder, ['mergekit-yaml', `${folder.dir}/config.yaml`, `${folder.dir}/output`], remote),
    gpus: input.gpus ?? defaultGpus.merge,
    nodes: 1,
    strategy: 'single',
    inputs: input.models.map((m) => ({ key: '', uri: m.uri, description: m.description ?? 'checkpoint to average' })),
    files: [],
    outputKey: keys.output,
    outputUri: store.uri(keys.output),
  };
}

/**
 * An edited spec keeps its command and inputs; only the config is the admin's. The text is
 * always re-made from the config so the two never disagree.
 */
export function withConfig(spec: TRunSpec, config: Record<string, unknown>): TRunSpec {
  const merged: Record<string, unknown> = { ...config };
  for (const key of managedKeys) {
    if (key in spec.config) merged[key] = spec.config[key];
    else delete merged[key];
  }
  const text = spec.configKey.endsWith('.json') ? JSON.stringify(merged, null, 2) + '\n' : yamlOf(merged);
  return { ...spec, config: merged, configYaml: text };
}

/** Streams that make a run's input files; the caller supplies them (they read the database and the store). */
export interface TInputWriters {
  version(source: Extract<TInputSource, { type: 'version' }>): AsyncIterable<string | Buffer>;
  prompts(source: Extract<TInputSource, { type: 'prompts' }>): AsyncIterable<string | Buffer>;
  pairs(source: Extract<TInputSource, { type: 'pairs' }>): AsyncIterable<string | Buffer>;
  projectPrompts(source: Extract<TInputSource, { type: 'project-prompts' }>): AsyncIterable<string | Buffer>;
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}

/**
 * Puts a run's files where the GPU host reads them: each input streamed into `runs/<id>/data/`,
 * the host scripts, the accelerate config and the config. Idempotent: files are rewritten whole
 * (atomic writes), so a retried submit never sees half a file.
 */
export async function materializeRunInputs(store: TArtifactStore, spec: TRunSpec, writers: TInputWriters): Promise<{ key: string; bytes: number }[]> {
  const written: { key: string; bytes: number }[] = [];
  for (const input of spec.inputs) {
    if (!input.source) continue;
    const source = input.source;
    const body =
      source.type === 'version' ? writers.version(source) : source.type === 'prompts' ? writers.prompts(source) : source.type === 'pairs' ? writers.pairs(source) : writers.projectPrompts(source);
    written.push({ key: input.key, ...(await store.write(input.key, body)) });
  }
  for (const file of spec.files) {
    const text = file.hostScript ? await fs.readFile(path.join(hostScriptsDir, file.hostScript), 'utf8') : (file.text ?? '');
    written.push({ key: file.key, ...(await store.write(file.key, once(text))) });
  }
  written.push({ key: spec.configKey, ...(await store.write(spec.configKey, once(spec.configYaml))) });
  return written;
}
