import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { modelParamsB, resolveStrategy, trainingStatePerGpuGb } from '@/server/rounds/distributed';
import { sampleRunSpec } from '@/server/rounds/host-job-specs';
import { mergeRunSpec, trlRunSpec, withConfig } from '@/server/rounds/specs';
import { applyOverrides } from '@/server/rounds/trainer-defaults';

const store = { uri: (key: string) => `file:///srv/artifacts/${key}` };
const s3 = { uri: (key: string) => `s3://bucket/pairwise/${key}` };
const llama8b = 'meta-llama/Llama-3.1-8B-Instruct';

describe('training run specs', () => {
  it('DPO follows Llama 3 on 8 GPUs: lr 1e-5, beta 0.1, sigmoid + sft losses weighted 1.0 and 0.2, explicit prompt, ZeRO-3 for an 8B model', () => {
    const spec = trlRunSpec(store, { kind: 'dpo', runRef: 7, modelNameOrPath: 'file:///srv/artifacts/runs/6/output', versionId: 3, versionKind: 'preference', baseModel: llama8b, padToken: '<|finetune_right_pad_id|>' });
    expect(spec.config).toMatchObject({ learning_rate: 1e-5, beta: 0.1, loss_type: ['sigmoid', 'sft'], loss_weights: [1.0, 0.2], pad_token: '<|finetune_right_pad_id|>' });
    expect(spec.config).not.toHaveProperty('rpo_alpha');
    // transformers 5.2 removed warmup_ratio: a fraction below 1 in warmup_steps; bf16 weights; two checkpoints kept.
    expect(spec.config).toMatchObject({ warmup_steps: 0.03, bf16: true, dtype: 'bfloat16', save_total_limit: 2, eval_strategy: 'epoch' });
    expect(spec.config).not.toHaveProperty('warmup_ratio');
    expect(spec.strategy).toBe('zero3');
    expect(spec.command).toEqual([
      'accelerate',
      'launch',
      '--config_file',
      '/srv/artifacts/runs/7/accelerate.yaml',
      '/srv/artifacts/runs/7/host/train.py',
      'dpo',
      '--config',
      '/srv/artifacts/runs/7/config.yaml',
    ]);
    const accelerate = parse(spec.files.find((f) => f.key === 'runs/7/accelerate.yaml')!.text!) as Record<string, unknown>;
    expect(accelerate).toMatchObject({ distributed_type: 'DEEPSPEED', num_processes: 8, num_machines: 1, mixed_precision: 'bf16', deepspeed_config: { zero_stage: 3, zero3_save_16bit_model: true } });
    // The trainer reads the folder data/: train.jsonl to learn, test.jsonl for its held-out evaluation.
    expect(spec.inputs.map((i) => [i.key, i.source])).toEqual([
      ['runs/7/data/train.jsonl', { type: 'version', versionId: 3, format: 'trl', split: 'train' }],
      ['runs/7/data/test.jsonl', { type: 'version', versionId: 3, format: 'trl', split: 'test' }],
    ]);
    expect(spec.config).toMatchObject({ dataset_name: '/srv/artifacts/runs/7/data', output_dir: '/srv/artifacts/runs/7/output', model_name_or_path: '/srv/artifacts/runs/6/output' });
    expect(spec.config).not.toHaveProperty('datasets');
    expect(parse(spec.configYaml)).toEqual(spec.config);
    expect(spec.configYaml).toContain('loss_type:\n  - sigmoid\n  - sft\n');
  });

  it('the reward model trains on implicit-prompt pairs with no margin, then scores the held-out pairs for its accuracy by strength', () => {
    const spec = trlRunSpec(store, { kind: 'reward', runRef: 5, modelNameOrPath: llama8b, versionId: 3, versionKind: 'preference', gpus: 1 });
    expect(spec.strategy).toBe('single');
    expect(spec.command.slice(0, 2)).toEqual(['bash', '-c']);
    expect(spec.command[2]).toBe(
      'python3 /srv/artifacts/runs/5/host/train.py reward --config /srv/artifacts/runs/5/config.yaml && if [ "${PAIRWISE_NODE_RANK:-0}" = 0 ]; then python3 /srv/artifacts/runs/5/host/sample.py --config /srv/artifacts/runs/5/score.json; fi',
    );
    expect(spec.inputs.map((i) => i.source)).toEqual([
      { type: 'version', versionId: 3, format: 'trl-implicit', split: 'train' },
      { type: 'version', versionId: 3, format: 'trl-implicit', split: 'test' },
      { type: 'pairs', versionId: 3, split: 'test' },
    ]);
    expect(JSON.stringify(spec.config) + spec.configYaml).not.toMatch(/margin/);
    expect(spec.config).toMatchObject({ model_name_or_path: llama8b, learning_rate: 1e-5, num_train_epochs: 1 });
    expect(spec.files.map((f) => f.key)).toEqual(['runs/5/host/train.py', 'runs/5/host/sample.py', 'runs/5/score.json']);
  });

  it('SFT trains on prompt/completion lines from an SFT version, with no evaluation split', () => {
    const spec = trlRunSpec(store, { kind: 'sft', runRef: 9, modelNameOrPath: 'base', versionId: 4, versionKind: 'sft', gpus: 1 });
    expect(spec.config.learning_rate).toBe(1e-5);
    expect(spec.config).not.toHaveProperty('assistant_only_loss');
    expect(spec.config).not.toHaveProperty('eval_strategy');
    expect(spec.inputs.map((i) => i.source)).toEqual([{ type: 'version', versionId: 4, format: 'sft-completion', split: 'all' }]);
    expect(spec.command).toEqual(['python3', '/srv/artifacts/runs/9/host/train.py', 'sft', '--config', '/srv/artifacts/runs/9/config.yaml']);
  });

  it('overrides change settings but never the run files; null removes a setting; numbers typed as text become numbers', () => {
    const spec = trlRunSpec(store, {
      kind: 'dpo',
      runRef: 7,
      modelNameOrPath: 'm',
      versionId: 3,
      versionKind: 'preference',
      overrides: { beta: '0.05', learning_rate: '5e-7', output_dir: '/tmp/elsewhere', gradient_checkpointing: null, run_name: '1e5 steps' },
    });
    expect(spec.config).toMatchObject({ beta: 0.05, learning_rate: 5e-7, run_name: '1e5 steps' });
    expect(spec.config.output_dir).toBe('/srv/artifacts/runs/7/output');
    expect(spec.config).not.toHaveProperty('gradient_checkpointing');
    const edited = withConfig(spec, { ...spec.config, num_train_epochs: 2, dataset_name: '/elsewhere' });
    expect(edited.config.num_train_epochs).toBe(2);
    expect(edited.config.dataset_name).toBe(spec.config.dataset_name);
    expect(parse(edited.configYaml)).toEqual(edited.config);
    expect(applyOverrides({ a: 1 }, { a: ['1e-3', 'x'] })).toEqual({ a: [1e-3, 'x'] });
  });

  it('merge is a mergekit linear average over the chosen checkpoints with their weights', () => {
    const spec = mergeRunSpec(store, { runRef: 11, models: [{ uri: 'file:///srv/artifacts/runs/7/output', weight: 0.5 }, { uri: 'file:///srv/artifacts/runs/8/output', weight: 0.5 }] });
    expect(spec.config).toEqual({
      merge_method: 'linear',
      dtype: 'bfloat16',
      models: [
        { model: '/srv/artifacts/runs/7/output', parameters: { weight: 0.5 } },
        { model: '/srv/artifacts/runs/8/output', parameters: { weight: 0.5 } },
      ],
    });
    expect(spec.command).toEqual(['mergekit-yaml', '/srv/artifacts/runs/11/config.yaml', '/srv/artifacts/runs/11/output']);
  });

  it('with object storage, the run folder is synced to scratch (checkpoints too, to resume), the output uploaded while training and at the end', () => {
    const spec = trlRunSpec(s3, { kind: 'sft', runRef: 7, modelNameOrPath: 's3://bucket/pairwise/runs/6/output', versionId: 3, versionKind: 'sft', gpus: 1 });
    expect(spec.config).toMatchObject({ dataset_name: '/tmp/pairwise-run-7/data', output_dir: '/tmp/pairwise-run-7/output', model_name_or_path: '/tmp/pairwise-run-7/model' });
    expect(spec.command.slice(0, 2)).toEqual(['bash', '-c']);
    expect(spec.command[2]!.split('\n')).toEqual([
      'set -euo pipefail',
      'mkdir -p /tmp/pairwise-run-7',
      "aws s3 sync s3://bucket/pairwise/runs/7 /tmp/pairwise-run-7 --exclude 'logs/*' --only-show-errors",
      '( while sleep 300; do aws s3 sync /tmp/pairwise-run-7/output s3://bucket/pairwise/runs/7/output --only-show-errors || true; done ) &',
      'uploader=$!',
      "trap 'kill $uploader 2>/dev/null || true' EXIT",
      'aws s3 sync s3://bucket/pairwise/runs/6/output /tmp/pairwise-run-7/model --only-show-errors',
      'python3 /tmp/pairwise-run-7/host/train.py sft --config /tmp/pairwise-run-7/config.yaml',
      'aws s3 sync /tmp/pairwise-run-7/output s3://bucket/pairwise/runs/7/output --only-show-errors',
    ]);
  });

  it('several nodes: accelerate gets the node count, each node its rank and the first node’s address from the executor', () => {
    const spec = trlRunSpec(store, { kind: 'sft', runRef: 3, modelNameOrPath: 'm', versionId: 4, versionKind: 'sft', gpus: 8, baseModel: 'meta-llama/Llama-3.1-70B-Instruct', distributed: { strategy: 'auto', nodes: 4 } });
    expect(spec.nodes).toBe(4);
    const accelerate = parse(spec.files.find((f) => f.key.endsWith('accelerate.yaml'))!.text!) as Record<string, unknown>;
    expect(accelerate).toMatchObject({ distributed_type: 'DEEPSPEED', num_machines: 4, num_processes: 32 });
    expect(spec.command[2]).toContain('--machine_rank "$PAIRWISE_NODE_RANK" --main_process_ip "$PAIRWISE_MASTER_ADDR" --main_process_port 29500');
  });

  it('host sampling jobs read the checkpoints and the version’s prompts of one split', () => {
    const spec = sampleRunSpec(store, { kind: 'eval', runRef: 12, models: [{ name: 'candidate', uri: 'file:///srv/artifacts/runs/10/output' }, { name: 'previous', uri: 's3://b/base' }], rewardModelUri: 'file:///srv/artifacts/runs/8/output', prompts: { versionId: 3, split: 'test' }, maxPrompts: 200, k: 1, gpus: 1 });
    expect(spec.inputs[0]!.source).toEqual({ type: 'prompts', versionId: 3, split: 'test', limit: 200 });
    expect(spec.config).toMatchObject({ models: [{ name: 'candidate', path: '/srv/artifacts/runs/10/output' }, { name: 'previous', path: '/srv/artifacts/runs/12/model-1' }], reward_model: '/srv/artifacts/runs/8/output', k: 1 });
    expect(spec.command[2]).toContain('aws s3 sync s3://b/base /srv/artifacts/runs/12/model-1');
  });
});

describe('distributed strategy', () => {
  it('reads the size from the name and shards what does not fit one GPU', () => {
    expect(modelParamsB({ strategy: 'auto', nodes: 1 }, 'meta-llama/Llama-3.1-8B-Instruct')).toBe(8);
    expect(modelParamsB({ strategy: 'auto', nodes: 1 }, 'Qwen/Qwen2.5-0.5B')).toBe(0.5);
    expect(modelParamsB({ strategy: 'auto', nodes: 1 }, '/models/custom')).toBeNull();
    expect(resolveStrategy({ strategy: 'auto', nodes: 1 }, 'Qwen/Qwen2.5-0.5B', 8)).toBe('ddp');
    expect(resolveStrategy({ strategy: 'auto', nodes: 1 }, 'meta-llama/Llama-3.1-8B', 8)).toBe('zero3');
    expect(resolveStrategy({ strategy: 'auto', nodes: 1 }, '/models/custom', 8)).toBe('zero3');
    expect(resolveStrategy({ strategy: 'fsdp2', nodes: 1 }, 'x', 1)).toBe('single');
    // 8B under ZeRO-3 on 8 GPUs: 128 GB of state, 16 GB each; DDP would need all 128 GB on every GPU.
    expect(trainingStatePerGpuGb(8, 'zero3', 8)).toBe(16);
    expect(trainingStatePerGpuGb(8, 'ddp', 8)).toBe(128);
  });
});
