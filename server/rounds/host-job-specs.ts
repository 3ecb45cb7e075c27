import type { TArtifactStore } from '../artifacts/store';
import { jobCommand, runFolder, shellQuoteArg, type TRemoteWeights } from './host-command';
import { runKeys, weightsFor, type TRunSpec } from './specs';

/** The specs of the host jobs that are not trainers: batch sampling (sample.py) and serving. */

export interface TSampleSpecInput {
  kind: 'rejection-sampling' | 'eval' | 'generate';
  runRef: number | string;
  /** The policies that answer (name → weights URI): the policy for rejection sampling; the new and the previous one for evaluation. */
  models: { name: string; uri: string }[];
  /** Scores every answer; none for generation (people will judge). */
  rewardModelUri: string | null;
  /** The prompts: a preference version's split (train for sampling, test for evaluation), or a project's. */
  prompts: { versionId: number; split: 'train' | 'test' } | { projectSlug: string };
  maxPrompts?: number;
  k: number;
  systemPrompts?: string[];
  sampling?: { temperature?: number; top_p?: number; max_tokens?: number };
  gpus: number;
  seed?: number;
}

/**
 * A host batch job (workers/host/sample.py): every model answers every prompt k times, the
 * reward model scores each answer; vLLM offline where installed, transformers otherwise. No
 * served endpoint is needed: the job reads the checkpoints.
 */
export function sampleRunSpec(store: Pick<TArtifactStore, 'uri'>, input: TSampleSpecInput): TRunSpec {
  const keys = runKeys(input.runRef);
  const folder = runFolder(store.uri(keys.folder), input.runRef);
  const remote: TRemoteWeights[] = [];
  const config: Record<string, unknown> = {
    prompts: `${folder.dir}/data/prompts.jsonl`,
    models: input.models.map((m, i) => ({ name: m.name, path: weightsFor(m.uri, folder.dir, `model-${i}`, remote) })),
    k: input.k,
    system_prompts: input.systemPrompts ?? [],
    // Llama 3 samples with temperature; the answers' length bound keeps a round's time predictable.
    sampling: { temperature: 1.0, top_p: 1.0, max_tokens: 2048, ...input.sampling },
    reward_model: input.rewardModelUri ? weightsFor(input.rewardModelUri, folder.dir, 'reward-model', remote) : null,
    output: `${folder.dir}/output/samples.jsonl`,
    progress: `${folder.dir}/output/progress.json`,
    engine: 'auto',
    batch_size: 16,
    seed: input.seed ?? 0,
  };
  const program = ['bash', '-c', `mkdir -p ${folder.dir}/output && PAIRWISE_TENSOR_PARALLEL=${Math.max(1, input.gpus)} exec python3 ${folder.dir}/host/sample.py --config ${folder.dir}/sample.json`];
  return {
    kind: input.kind,
    config,
    configYaml: JSON.stringify(config, null, 2) + '\n',
    configKey: keys.sampleConfig,
    command: jobCommand(folder, program, remote),
    gpus: input.gpus,
    nodes: 1,
    strategy: 'single',
    inputs: [
      'projectSlug' in input.prompts
        ? {
            key: keys.data('prompts'),
            uri: store.uri(keys.data('prompts')),
            description: `the prompts of project ${input.prompts.projectSlug}, at most ${input.maxPrompts ?? 1000}`,
            source: { type: 'project-prompts', projectSlug: input.prompts.projectSlug, limit: input.maxPrompts ?? 1000 },
          }
        : {
            key: keys.data('prompts'),
            uri: store.uri(keys.data('prompts')),
            description: `the distinct prompts of dataset version ${input.prompts.versionId}, ${input.prompts.split} split${input.maxPrompts ? `, at most ${input.maxPrompts}` : ''}`,
            source: { type: 'prompts', versionId: input.prompts.versionId, split: input.prompts.split, ...(input.maxPrompts ? { limit: input.maxPrompts } : {}) },
          },
    ],
    files: [{ key: keys.host('sample.py'), description: 'batch sampling and scoring on the host', hostScript: 'sample.py' }],
    outputKey: keys.output,
    outputUri: store.uri(keys.output),
  };
}

export interface TServeSpecInput {
  runRef: number | string;
  /** The registered name: the model name the server answers to. */
  name: string;
  modelUri: string;
  port: number;
  gpus: number;
}

/**
 * A long-running server for the new policy: vLLM's OpenAI-compatible server where vLLM is
 * installed (tensor parallel over the job's GPUs), `transformers serve` otherwise. Both answer
 * /health and /v1/chat/completions. `transformers serve` pinned to a folder refuses any other
 * model name than that folder, so the endpoint's model name is the weights' path on the host;
 * vLLM answers to that path and to the registered name.
 */
export function serveRunSpec(store: Pick<TArtifactStore, 'uri'>, input: TServeSpecInput): TRunSpec {
  const keys = runKeys(input.runRef);
  const folder = runFolder(store.uri(keys.folder), input.runRef);
  const remote: TRemoteWeights[] = [];
  const weights = weightsFor(input.modelUri, folder.dir, 'model', remote);
  const q = shellQuoteArg;
  const config = { model: weights, served_model_names: [weights, input.name], port: input.port, tensor_parallel_size: Math.max(1, input.gpus) };
  const script = [
    'if python3 -c "import vllm" 2>/dev/null; then',
    `  exec vllm serve ${q(weights)} --host 0.0.0.0 --port ${input.port} --served-model-name ${q(weights)} ${q(input.name)} --tensor-parallel-size ${config.tensor_parallel_size}`,
    'fi',
    `exec transformers serve ${q(weights)} --host 0.0.0.0 --port ${input.port}`,
  ].join('\n');
  return {
    kind: 'deploy',
    config,
    configYaml: JSON.stringify(config, null, 2) + '\n',
    configKey: `${keys.prefix}serve.json`,
    command: jobCommand(folder, ['bash', '-c', script], remote),
    gpus: input.gpus,
    nodes: 1,
    strategy: 'single',
    inputs: [{ key: '', uri: input.modelUri, description: 'the registered policy’s weights' }],
    files: [],
    outputKey: keys.output,
    outputUri: store.uri(keys.output),
  };
}
