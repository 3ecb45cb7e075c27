import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { localArtifactStore } from '@/server/artifacts/store';
import { latestCheckpointState } from '@/server/rounds/rounds';
import { parseTrainerState, roundGpuHours, runGpuSeconds, wilsonInterval } from '@/server/rounds/metrics';

describe('trainer_state.json parsing', () => {
  it('turns log_history into series by step, training and evaluation entries alike', () => {
    const state = {
      global_step: 20,
      max_steps: 20,
      epoch: 1,
      log_history: [
        { epoch: 0.5, step: 10, loss: 0.69, grad_norm: 3.2, learning_rate: 1e-5, 'rewards/accuracies': 0.55, 'rewards/margins': 0.1 },
        { epoch: 0.5, step: 10, eval_loss: 0.66, eval_runtime: 1.2 },
        { epoch: 1, step: 20, loss: 0.52, grad_norm: 2.1, learning_rate: 5e-6, 'rewards/accuracies': 0.7, 'rewards/margins': 0.4 },
        { epoch: 1, step: 20, eval_loss: 'NaN' },
        { epoch: 1, step: 20, train_loss: 0.6, train_runtime: 40, total_flos: 1e12 },
      ],
    };
    const metrics = parseTrainerState(state);
    const names = metrics.series.map((s) => s.name);
    expect(names.slice(0, 6)).toEqual(['loss', 'eval_loss', 'rewards/accuracies', 'rewards/margins', 'learning_rate', 'grad_norm']);
    expect(names).toContain('train_loss');
    expect(names).not.toContain('eval_runtime');
    expect(names).not.toContain('total_flos');
    expect(metrics.series.find((s) => s.name === 'loss')!.points).toEqual([
      { step: 10, value: 0.69 },
      { step: 20, value: 0.52 },
    ]);
    expect(metrics.series.find((s) => s.name === 'eval_loss')!.points).toEqual([{ step: 10, value: 0.66 }]);
    expect(metrics.last['rewards/accuracies']).toBe(0.7);
    expect(metrics).toMatchObject({ globalStep: 20, maxSteps: 20, epoch: 1 });
  });

  it('a missing or malformed state gives empty series, not an error', () => {
    expect(parseTrainerState(null).series).toEqual([]);
    expect(parseTrainerState({ log_history: 'x' }).series).toEqual([]);
    expect(parseTrainerState({ log_history: [null, 3, { loss: 1 }] }).series).toEqual([]);
  });
});

describe('GPU-hours', () => {
  it('counts GPUs × elapsed time, up to now while running', () => {
    const startedAt = new Date('2026-01-01T00:00:00Z');
    expect(runGpuSeconds({ gpus: 8, startedAt, finishedAt: new Date('2026-01-01T01:30:00Z') })).toBe(8 * 5400);
    expect(runGpuSeconds({ gpus: 2, startedAt, finishedAt: null }, new Date('2026-01-01T00:00:10Z'))).toBe(20);
    expect(runGpuSeconds({ gpus: 8, startedAt: null, finishedAt: null })).toBe(0);
    expect(runGpuSeconds({ gpus: 0, startedAt, finishedAt: null })).toBe(0);
    expect(roundGpuHours([{ gpuSeconds: 3600 }, { gpuSeconds: 7200 }])).toBe(3);
  });
});

describe('Wilson interval', () => {
  it('matches published values and stays in [0, 1]', () => {
    // R: prop.test(60, 100, correct = FALSE)$conf.int = 0.5020026 0.6905987
    const i = wilsonInterval(60, 100);
    expect(i.low).toBeCloseTo(0.5020026, 6);
    expect(i.high).toBeCloseTo(0.6905987, 6);
    expect(wilsonInterval(0, 10).low).toBe(0);
    expect(wilsonInterval(10, 10).high).toBe(1);
  });
});

describe('live training metrics', () => {
  it('come from the newest checkpoint’s trainer_state.json until the final one is written', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-ckpt-'));
    try {
      const store = localArtifactStore(root);
      const write = (key: string, value: unknown) =>
        store.write(
          key,
          (async function* () {
            yield JSON.stringify(value);
          })(),
        );
      expect(await latestCheckpointState(store, 7)).toBeNull();
      await write('runs/7/output/checkpoint-5/trainer_state.json', { log_history: [{ step: 5, loss: 0.9 }] });
      await write('runs/7/output/checkpoint-10/trainer_state.json', { log_history: [{ step: 5, loss: 0.9 }, { step: 10, loss: 0.7 }] });
      await write('runs/7/output/checkpoint-10/config.json', {});
      expect(await latestCheckpointState(store, 7)).toEqual({ log_history: [{ step: 5, loss: 0.9 }, { step: 10, loss: 0.7 }] });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
