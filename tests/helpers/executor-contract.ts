import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TExecutor, TExecutorJob, TExecutorStatus } from '@/workers/executors/types';
import { repoRoot } from './app-process';

/**
 * The behaviour every executor must have, whatever runs the process: the contract the local, Ray
 * and Kubernetes executors pass in tests/integration/executors.test.ts, and Slurm's against a real
 * cluster in tests/slurm. Jobs run tests/fixtures/fake-trainer.mjs, which writes what TRL writes.
 */

const fakeTrainer = path.join(repoRoot, 'tests/fixtures/fake-trainer.mjs');
/** Where the jobs' configs and outputs go (the test file removes it). */
export const contractScratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-executors-'));

let nextRunId = 1000;
/** A run id no other job of this test process has. */
export function takeRunId(): number {
  return nextRunId++;
}

/** A fake-trainer DPO run: `steps` steps of `stepMs`, failing when asked. */
export function trainerJob(options: { steps?: number; stepMs?: number; fail?: boolean; gpus?: number; attempt?: number } = {}): TExecutorJob & { outputDir: string } {
  const runId = takeRunId();
  const attempt = options.attempt ?? 0;
  const dir = path.join(contractScratch, `run-${runId}-${attempt}`);
  fs.mkdirSync(dir, { recursive: true });
  const outputDir = path.join(dir, 'out');
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(config, `model_name_or_path: /models/policy\noutput_dir: ${outputDir}\nmax_steps: ${options.steps ?? 3}\nbeta: 0.1\n`);
  return {
    runId,
    attempt,
    command: [process.execPath, fakeTrainer, 'trl', 'dpo', '--config', config],
    env: { FAKE_TRAINER_STEP_MS: String(options.stepMs ?? 50), ...(options.fail ? { FAKE_TRAINER_FAIL: '1' } : {}) },
    gpus: options.gpus ?? 1,
    artifactPrefix: `runs/${runId}/`,
    outputDir,
  };
}

/** A job that prints its arguments and a few variables as JSON. */
export function echoJob(args: string[], env: Record<string, string>): TExecutorJob {
  const runId = takeRunId();
  const script = 'console.log("echo:" + JSON.stringify({ args: process.argv.slice(1), greeting: process.env.GREETING, token: process.env.HF_TOKEN, leak: process.env.PAIRWISE_TEST_NOT_FOR_JOBS ?? null, devices: process.env.CUDA_VISIBLE_DEVICES ?? null }))';
  return { runId, attempt: 0, command: [process.execPath, '-e', script, ...args], env, gpus: 1, artifactPrefix: `runs/${runId}/` };
}

export const terminal = (s: TExecutorStatus) => s.state === 'succeeded' || s.state === 'failed' || s.state === 'cancelled';

export async function waitForStatus(executor: TExecutor, externalId: string, until: (s: TExecutorStatus) => boolean, timeoutMs = 20_000): Promise<TExecutorStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: TExecutorStatus | undefined;
  while (Date.now() < deadline) {
    last = await executor.status(externalId);
    if (until(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${externalId} never reached the expected state; last: ${JSON.stringify(last)}`);
}

export async function waitForLogs(executor: TExecutor, externalId: string, text: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let logs = '';
  while (Date.now() < deadline) {
    logs = await executor.logs(externalId);
    if (logs.includes(text)) return logs;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`logs of ${externalId} never showed ${text}; they are:\n${logs}`);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface TExecutorUnderTest {
  /** A new instance from the same config: what a restarted worker builds. */
  executor(): TExecutor;
  /** The HF_TOKEN value the job must see. */
  expectedToken: string;
}

/** The behaviour every executor must have, whatever runs the process. */
export function executorContract(name: string, setup: () => Promise<TExecutorUnderTest>) {
  describe(`${name} executor contract`, () => {
    let ut: TExecutorUnderTest;
    beforeAll(async () => {
      ut = await setup();
    });

    it('submit is idempotent: the same run and attempt start once, also after a restart', async () => {
      const job = trainerJob();
      const executor = ut.executor();
      const [a, b] = await Promise.all([executor.submit(job), executor.submit(job)]);
      const c = await ut.executor().submit(job);
      // Slurm's ids are `<job id>/<name>`; the others' are the name.
      expect(a.externalId).toMatch(new RegExp(`(^|/)pairwise-run-${job.runId}-0$`));
      expect(b.externalId).toBe(a.externalId);
      expect(c.externalId).toBe(a.externalId);
      expect((await waitForStatus(executor, a.externalId, terminal)).state).toBe('succeeded');
      const logs = await executor.logs(a.externalId);
      expect(logs.match(/fake-trainer pid \d+/g)).toHaveLength(1);
      // Another attempt of the same run is another job.
      const retry = await executor.submit({ ...job, attempt: 1 });
      expect(retry.externalId).toMatch(new RegExp(`(^|/)pairwise-run-${job.runId}-1$`));
      expect((await waitForStatus(executor, retry.externalId, terminal)).state).toBe('succeeded');
    });

    it('a command that succeeds goes pending/running, then succeeded, with its output in the logs; a restarted worker sees the same', async () => {
      // Slow enough that the first status, even through SSH on a busy machine, comes before the end.
      const job = trainerJob({ steps: 4, stepMs: 400 });
      const executor = ut.executor();
      const { externalId } = await executor.submit(job);
      expect(['pending', 'running']).toContain((await executor.status(externalId)).state);
      const running = await waitForStatus(executor, externalId, (s) => s.state !== 'pending');
      expect(['running', 'succeeded']).toContain(running.state);
      const done = await waitForStatus(executor, externalId, terminal);
      expect(done.state).toBe('succeeded');
      expect(done.startedAt).toBeInstanceOf(Date);
      expect(done.finishedAt).toBeInstanceOf(Date);
      expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());

      const logs = await executor.logs(externalId);
      expect(logs).toContain("'rewards/accuracies'");
      expect(logs).toContain('Training completed');
      const state = JSON.parse(fs.readFileSync(path.join(job.outputDir, 'trainer_state.json'), 'utf8')) as { log_history: Record<string, number>[]; global_step: number };
      expect(state.global_step).toBe(4);
      expect(state.log_history.some((e) => e['eval_rewards/accuracies'] !== undefined)).toBe(true);
      expect(fs.existsSync(path.join(job.outputDir, 'checkpoint-4', 'model.safetensors'))).toBe(true);

      const tail = await executor.logs(externalId, { tailBytes: 40 });
      expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(40);
      expect(tail.length).toBeGreaterThan(0);
      expect(logs.endsWith(tail)).toBe(true);

      const restarted = ut.executor();
      const again = await restarted.status(externalId);
      expect(again.state).toBe('succeeded');
      expect(again.finishedAt?.getTime()).toBe(done.finishedAt?.getTime());
      expect(await restarted.logs(externalId)).toBe(logs);
    });

    it('a command that fails ends failed, with a message', async () => {
      const executor = ut.executor();
      const { externalId } = await executor.submit(trainerJob({ fail: true }));
      const done = await waitForStatus(executor, externalId, terminal);
      expect(done.state).toBe('failed');
      expect(done.message).toBeTruthy();
      expect(await executor.logs(externalId)).toContain('CUDA out of memory');
    });

    it('arguments and environment arrive exactly: quoting, job variables, secrets from references', async () => {
      const executor = ut.executor();
      const args = ["it's", 'a b', '$HOME', '', '"; echo injected', '*'];
      const { externalId } = await executor.submit(echoJob(args, { GREETING: 'hello world' }));
      expect((await waitForStatus(executor, externalId, terminal)).state).toBe('succeeded');
      const line = (await executor.logs(externalId)).split('\n').find((l) => l.startsWith('echo:'));
      const seen = JSON.parse(line!.slice('echo:'.length)) as { args: string[]; greeting: string; token: string; leak: string | null };
      expect(seen.args).toEqual(args);
      expect(seen.greeting).toBe('hello world');
      expect(seen.token).toBe(ut.expectedToken);
      expect(seen.leak).toBeNull();
    });

    it('cancel stops a long job, from a restarted worker too, and it ends cancelled', async () => {
      const job = trainerJob({ steps: 600, stepMs: 100 });
      const first = ut.executor();
      const { externalId } = await first.submit(job);
      const logs = await waitForLogs(first, externalId, 'fake-trainer pid');
      const pid = Number(/fake-trainer pid (\d+)/.exec(logs)![1]);
      expect(processAlive(pid)).toBe(true);

      const restarted = ut.executor();
      expect((await restarted.status(externalId)).state).toBe('running');
      await restarted.cancel(externalId);
      const done = await waitForStatus(restarted, externalId, terminal);
      expect(done.state).toBe('cancelled');
      const deadline = Date.now() + 5000;
      while (processAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(processAlive(pid)).toBe(false);
      expect(fs.existsSync(path.join(job.outputDir, 'trainer_state.json'))).toBe(false);
      // Cancelling again, or a finished job, is harmless.
      await restarted.cancel(externalId);
      expect((await first.status(externalId)).state).toBe('cancelled');
    });
  });
}

