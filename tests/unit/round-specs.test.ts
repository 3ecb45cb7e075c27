import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mergeRunSpec, trlRunSpec, withConfig } from '@/server/rounds/specs';

const store = { uri: (key: string) => `file:///srv/artifacts/${key}` };
const s3 = { uri: (key: string) => `s3://bucket/pairwise/${key}` };

describe('training run specs', () => {
  it('DPO follows Llama 3: lr 1e-5, beta 0.1, sigmoid + sft losses weighted 1.0 and 0.2, explicit prompt', () => {
    const spec = trlRunSpec(store, { kind: 'dpo', runRef: 7, modelNameOrPath: 'file:///srv/artifacts/runs/6/output', versionId: 3, versionKind: 'preference' });
    expect(spec.config).toMatchObject({ learning_rate: 1e-5, beta: 0.1, loss_type: ['sigmoid', 'sft'], loss_weights: [1.0, 0.2] });
    expect(spec.config).not.toHaveProperty('rpo_alpha');
    expect(spec.command).toEqual(['trl', 'dpo', '--config', '/srv/artifacts/runs/7/config.yaml']);
    expect(spec.inputs).toEqual([expect.objectContaining({ key: 'runs/7/data/train.jsonl', uri: 'file:///srv/artifacts/runs/7/data/train.jsonl', source: { versionId: 3, format: 'trl', split: 'train' } })]);
    expect(spec.config.datasets).toEqual([{ path: 'json', data_files: '/srv/artifacts/runs/7/data/train.jsonl', split: 'train' }]);
    expect(spec.config.output_dir).toBe('/srv/artifacts/runs/7/output');
    expect(spec.config.model_name_or_path).toBe('/srv/artifacts/runs/6/output');
    // The YAML text is exactly the config.
    expect(parse(spec.configYaml)).toEqual(spec.config);
    expect(spec.configYaml).toContain('loss_type:\n  - sigmoid\n  - sft\n');
  });

  it('the reward model trains on implicit-prompt pairs with no margin', () => {
    const spec = trlRunSpec(store, { kind: 'reward', runRef: 5, modelNameOrPath: 'meta-llama/Llama-3.1-8B-Instruct', versionId: 3, versionKind: 'preference' });
    expect(spec.command.slice(0, 2)).toEqual(['trl', 'reward']);
    expect(spec.inputs[0]!.source).toEqual({ versionId: 3, format: 'trl-implicit', split: 'train' });
    const text = JSON.stringify(spec.config) + spec.configYaml;
    expect(text).not.toMatch(/margin/);
    expect(spec.config).toMatchObject({ model_name_or_path: 'meta-llama/Llama-3.1-8B-Instruct', learning_rate: 1e-5, num_train_epochs: 1 });
    expect(spec.gpus).toBe(8);
  });

  it('SFT uses lr 1e-5 and reads messages from an SFT version or the chosen responses of a preference version', () => {
    const fromSft = trlRunSpec(store, { kind: 'sft', runRef: 9, modelNameOrPath: 'base', versionId: 4, versionKind: 'sft' });
    expect(fromSft.config.learning_rate).toBe(1e-5);
    expect(fromSft.inputs[0]!.source).toEqual({ versionId: 4, format: 'sft', split: 'all' });
    const fromPreference = trlRunSpec(store, { kind: 'sft', runRef: 9, modelNameOrPath: 'base', versionId: 3, versionKind: 'preference' });
    expect(fromPreference.inputs[0]!.source).toEqual({ versionId: 3, format: 'sft', split: 'train' });
  });

  it('overrides change settings but never the run files; null removes a setting', () => {
    const spec = trlRunSpec(store, {
      kind: 'dpo',
      runRef: 7,
      modelNameOrPath: 'm',
      versionId: 3,
      versionKind: 'preference',
      overrides: { beta: 0.05, output_dir: '/tmp/elsewhere', gradient_checkpointing: null },
    });
    expect(spec.config.beta).toBe(0.05);
    expect(spec.config.output_dir).toBe('/srv/artifacts/runs/7/output');
    expect(spec.config).not.toHaveProperty('gradient_checkpointing');
    const edited = withConfig(spec, { ...spec.config, num_train_epochs: 2, datasets: [] });
    expect(edited.config.num_train_epochs).toBe(2);
    expect(edited.config.datasets).toEqual(spec.config.datasets);
    expect(parse(edited.configYaml)).toEqual(edited.config);
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

  it('with object storage, datasets are read from s3:// and the command fetches the config and weights, then uploads the output', () => {
    const spec = trlRunSpec(s3, { kind: 'dpo', runRef: 7, modelNameOrPath: 's3://bucket/pairwise/runs/6/output', versionId: 3, versionKind: 'preference' });
    expect(spec.config.datasets).toEqual([{ path: 'json', data_files: 's3://bucket/pairwise/runs/7/data/train.jsonl', split: 'train' }]);
    expect(spec.config.output_dir).toBe('/tmp/pairwise-7/output');
    expect(spec.config.model_name_or_path).toBe('/tmp/pairwise-7/model');
    expect(spec.command.slice(0, 2)).toEqual(['bash', '-c']);
    expect(spec.command[2]!.split('\n')).toEqual([
      'set -euo pipefail',
      'mkdir -p /tmp/pairwise-7',
      'aws s3 cp s3://bucket/pairwise/runs/7/config.yaml /tmp/pairwise-7/config.yaml',
      'aws s3 sync s3://bucket/pairwise/runs/6/output /tmp/pairwise-7/model',
      'trl dpo --config /tmp/pairwise-7/config.yaml',
      'aws s3 sync /tmp/pairwise-7/output s3://bucket/pairwise/runs/7/output',
    ]);
  });
});
