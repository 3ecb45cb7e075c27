/**
 * The contract with the real trainer stack (workers/host/requirements.txt), checked on every CI
 * run: every config Pairwise generates parses with TRL's own parser (a key TRL or transformers
 * renamed or removed fails the build here, not on a GPU host), every accelerate config loads with
 * accelerate's, and the reward model is scored where it was trained.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { localArtifactStore } from '@/server/artifacts/store';
import type { TDistributedStrategy } from '@/server/rounds/distributed';
import { trlRunSpec, type TRunSpec } from '@/server/rounds/specs';
import { hostEnv, hostVenv, runPython } from '../helpers/host-python';

const venv = hostVenv();
if (!venv && process.env.CI) throw new Error('no trainer environment (.venv): run `bash workers/host/setup-venv.sh` (npm run test:round does)');

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-trainer-contract-'));
const store = localArtifactStore(path.join(scratch, 'artifacts'));
const env = venv ? hostEnv(venv.bin, scratch) : {};
const model = path.join(scratch, 'tiny-llama-3.1');

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface TCheck {
  file: string;
  kind: string;
  ok: boolean;
  error?: string;
  values?: Record<string, unknown>;
}

async function check(files: { kind: string; file: string }[]): Promise<TCheck[]> {
  const out = await runPython(venv!.python, ['tests/fixtures/check_trl_configs.py', ...files.map((f) => `${f.kind}=${f.file}`)], env);
  return out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TCheck);
}

function write(name: string, text: string): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, text);
  return file;
}

describe.skipIf(!venv)('the trainer contract', () => {
  beforeAll(async () => {
    await runPython(venv!.python, ['tests/fixtures/make_tiny_llama.py', model], env);
  }, 120_000);

  it('every generated TRL config parses with TRL’s own parser, with and without overrides, and every accelerate config loads', async () => {
    const specs: { name: string; spec: TRunSpec }[] = [];
    const kinds = ['reward', 'sft', 'dpo'] as const;
    const strategies: TDistributedStrategy[] = ['auto', 'ddp', 'zero3', 'fsdp2'];
    for (const kind of kinds) {
      const base = { kind, runRef: `contract-${kind}`, modelNameOrPath: model, versionId: 1, versionKind: kind === 'sft' ? ('sft' as const) : ('preference' as const), baseModel: 'meta-llama/Llama-3.1-8B-Instruct', padToken: '<|finetune_right_pad_id|>' };
      specs.push({ name: `${kind}-defaults`, spec: trlRunSpec(store, base) });
      // Typical admin edits: a number typed as text, a removed key, a changed schedule.
      specs.push({ name: `${kind}-overrides`, spec: trlRunSpec(store, { ...base, overrides: { learning_rate: '5e-7', gradient_checkpointing: null, num_train_epochs: 3, lr_scheduler_type: 'linear', warmup_steps: 10 } }) });
      for (const strategy of strategies) specs.push({ name: `${kind}-${strategy}`, spec: trlRunSpec(store, { ...base, gpus: 8, distributed: { strategy, nodes: strategy === 'fsdp2' ? 2 : 1 } }) });
    }
    const files: { kind: string; file: string }[] = [];
    for (const { name, spec } of specs) {
      files.push({ kind: spec.kind, file: write(`${name}.yaml`, spec.configYaml) });
      const accelerate = spec.files.find((f) => f.key.endsWith('accelerate.yaml'));
      if (accelerate) files.push({ kind: 'accelerate', file: write(`${name}-accelerate.yaml`, accelerate.text!) });
    }
    // A key that TRL no longer knows must fail: the check has teeth.
    const removed = { ...specs[0]!.spec.config, warmup_ratio: 0.03 };
    files.push({ kind: 'reward', file: write('removed-key.yaml', stringify(removed)) });

    const results = await check(files);
    expect(results).toHaveLength(files.length);
    const failed = results.slice(0, -1).filter((r) => !r.ok);
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(results.at(-1)).toMatchObject({ ok: false });
    expect(results.at(-1)!.error).toContain('warmup_ratio');

    const byFile = new Map(results.map((r) => [path.basename(r.file), r.values ?? {}]));
    expect(byFile.get('dpo-defaults.yaml')).toMatchObject({ learning_rate: 1e-5, warmup_steps: 0.03, bf16: true, save_total_limit: 2, dtype: 'bfloat16', pad_token: '<|finetune_right_pad_id|>' });
    expect(String(byFile.get('reward-defaults.yaml')!.eval_strategy)).toMatch(/epoch/i);
    // The string "5e-7" reached TRL as the number it means.
    expect(byFile.get('sft-overrides.yaml')).toMatchObject({ learning_rate: 5e-7, warmup_steps: 10 });
    expect(byFile.get('reward-zero3-accelerate.yaml')).toMatchObject({ distributed_type: expect.stringMatching(/DEEPSPEED/), num_processes: 8 });
    expect(byFile.get('dpo-fsdp2-accelerate.yaml')).toMatchObject({ distributed_type: expect.stringMatching(/FSDP/), num_processes: 16 });
  }, 240_000);

  it('scores a pair where the trainer does with Llama 3’s pad token, and not with TRL’s eos default', async () => {
    const run = async (pad: string) => JSON.parse((await runPython(venv!.python, ['tests/fixtures/check_reward_scoring.py', model, pad], env)).trim().split('\n').at(-1)!) as { max_diff: number; trainer: number[]; scoring: number[] };
    const right = await run('<|finetune_right_pad_id|>');
    expect(right.trainer).toHaveLength(4);
    expect(right.max_diff).toBeLessThan(1e-4);
    // Padding with <|eot_id|>: the trainer reads each score one token before the end, scoring reads the end.
    const eos = await run('eos');
    expect(eos.max_diff).toBeGreaterThan(1e-3);
  }, 240_000);
});
