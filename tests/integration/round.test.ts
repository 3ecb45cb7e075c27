import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { comparisons, executors, models, rounds, runs } from '@/db/schema';
import { localArtifactStore } from '@/server/artifacts/store';
import { buildDatasetVersion } from '@/server/datasets/build-version';
import type { TRoundPlanInput } from '@/server/rounds/plan';
import { runKeys } from '@/server/rounds/specs';
import { startWorker, type TRunningWorker } from '@/workers/run-worker';
import { findFreePort } from '@/db/embedded';
import { setupTestDatabase } from '../helpers/db';
import { stopDeployments, until } from '../helpers/rounds';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { startFakeVllm, type TFakeVllm } from '../helpers/fake-vllm';
import { castVote } from '../helpers/votes';

const db = setupTestDatabase();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-round-'));
const artifacts = path.join(scratch, 'artifacts');
const store = localArtifactStore(artifacts);
const bin = path.join(scratch, 'bin');
const stateDir = path.join(scratch, 'executor-state');
let vllm: TFakeVllm;
const workers: TRunningWorker[] = [];
const workerLog: string[] = [];

// The "GPU host" of these orchestration tests runs the fake trainer (the real one runs in
// tests/round): `python3 .../train.py <kind> --config ...` and `accelerate launch` reach it
// through shims; the held-out scoring after the reward model (sample.py) has nothing to score.
fs.mkdirSync(bin, { recursive: true });
fs.mkdirSync(stateDir, { recursive: true });
const fakeTrainer = path.resolve('tests/fixtures/fake-trainer.mjs');
fs.writeFileSync(path.join(bin, 'mergekit-yaml'), `#!/bin/sh\nexec node ${JSON.stringify(fakeTrainer)} mergekit-yaml "$@"\n`, { mode: 0o755 });
fs.writeFileSync(
  path.join(bin, 'python3'),
  `#!/bin/sh\ncase "$1" in\n  */train.py) shift; exec node ${JSON.stringify(fakeTrainer)} trl "$@" ;;\n  */sample.py) exit 0 ;;\nesac\necho "unexpected python3 $*" >&2\nexit 2\n`,
  { mode: 0o755 },
);
// A deployment's server: `transformers serve DIR --host H --port P` answers /health, /v1/models
// and chat completions (the next round samples from the deployed policy in endpoint mode).
const fakeServer = path.join(bin, 'fake-serve.cjs');
fs.writeFileSync(fakeServer, `const http = require("http");
http.createServer((q, r) => {
  let body = "";
  q.on("data", (d) => (body += d));
  q.on("end", () => {
    r.setHeader("content-type", "application/json");
    if (q.url.startsWith("/v1/chat/completions")) {
      // Pinned to one folder, as transformers serve is: any other model name is refused.
      const request = JSON.parse(body || "{}");
      if (request.model !== process.argv[3]) {
        r.statusCode = 400;
        return r.end(JSON.stringify({ error: { message: "Server is pinned to '" + process.argv[3] + "'; requested '" + request.model + "'." } }));
      }
      const n = request.n || 1;
      r.end(JSON.stringify({ choices: Array.from({ length: n }, (_, index) => ({ index, message: { role: "assistant", content: "deployed answer " + index }, finish_reason: "stop" })) }));
    } else r.end(JSON.stringify(q.url.startsWith("/v1/models") ? { object: "list", data: [] } : { status: "ok" }));
  });
}).listen(Number(process.argv[2]), "127.0.0.1");\n`);
fs.writeFileSync(
  path.join(bin, 'transformers'),
  `#!/bin/sh\n# transformers serve FOLDER --host H --port P\nfolder=$2\nport=""\nwhile [ $# -gt 0 ]; do [ "$1" = "--port" ] && port=$2; shift; done\nexec node ${JSON.stringify(fakeServer)} "$port" "$folder"\n`,
  { mode: 0o755 },
);
fs.writeFileSync(path.join(bin, 'accelerate'), `#!/bin/sh\n# accelerate launch --config_file FILE [--flag value ...] SCRIPT ARGS\nshift 3\nexec python3 "$@"\n`, { mode: 0o755 });

beforeAll(async () => {
  vllm = await startFakeVllm();
});

afterAll(async () => {
  await stopDeployments(db.current.handle, store);
  for (const worker of workers) await worker.stop().catch(() => {});
  await stopSharedQueue();
  await vllm?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const wait = <T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs?: number) => until(db.current.handle, workerLog, what, check, timeoutMs);

async function start(): Promise<TRunningWorker> {
  const worker = await startWorker(db.current.url, { db: db.current.handle, store, pollSeconds: 0.3 }, (line) => workerLog.push(line));
  workers.push(worker);
  return worker;
}

/** A preference version built from real judgments: 16 comparisons judged "better", half of the prompts held out. */
async function preferenceVersion(admin: Awaited<ReturnType<typeof makeUser>>) {
  const { handle } = db.current;
  const annotator = await makeUser(handle);
  const project = await makeProject(handle);
  await importLines(handle, project, comparisonLines(16, 'r'));
  for (let i = 0; i < 16; i++) await castVote(handle, project, annotator, `r-${i}`, (i % 2) as 0 | 1, i % 3 === 0 ? 'significantly_better' : 'better');
  const caller = callerFor(handle, db.current.url, admin, artifacts);
  const requested = await caller.datasets.build({ name: 'round data', spec: { projects: [project.slug], testFraction: 0.5 } });
  const built = await buildDatasetVersion(handle, store, requested.id);
  expect(built?.status).toBe('succeeded');
  return built!;
}

async function setup() {
  const { handle } = db.current;
  const admin = await makeUser(handle, 'admin');
  const version = await preferenceVersion(admin);
  const suffix = Math.random().toString(36).slice(2, 8);
  const [policy] = await handle.db
    .insert(models)
    .values({ name: `policy-v0-${suffix}`, kind: 'policy', serving: 'openai', baseUrl: vllm.baseUrl, apiModel: 'policy-v0', baseModel: 'meta-llama/Llama-3.1-8B-Instruct', artifactUri: 'meta-llama/Llama-3.1-8B-Instruct' })
    .returning();
  const [executor] = await handle.db
    .insert(executors)
    .values({
      name: `local-${suffix}`,
      kind: 'local',
      config: { gpus: ['0', '1'], stateDir, env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, FAKE_TRAINER_STEP_MS: '30' }, killGraceSeconds: 1 },
    })
    .returning();
  const evalProject = await makeProject(handle);
  const plan: TRoundPlanInput = {
    baseModel: 'meta-llama/Llama-3.1-8B-Instruct',
    reward: { gpus: 1, config: {}, serving: { kind: 'vllm-classify', baseUrl: vllm.baseUrl, apiModel: 'reward-v1' } },
    // Endpoint mode: the worker samples and scores through the (fake) served models.
    rejectionSampling: { mode: 'endpoint', k: 4, concurrency: 4 },
    sft: { gpus: 1, config: {} },
    dpo: { gpus: 2, config: {} },
    eval: { mode: 'endpoint', maxPrompts: 20, humanProject: evalProject.slug, humanComparisons: 5 },
    // The fake scores say nothing about the policies: registration goes ahead on a recorded override.
    register: { name: `policy-v1-${suffix}`, serving: { baseUrl: vllm.baseUrl, apiModel: 'policy-v1' }, gate: { minWinRateLow: 0.5, overrideReason: 'orchestration test with fake scores' } },
  };
  return { admin, version, policy: policy!, executor: executor!, evalProject, plan, caller: callerFor(handle, db.current.url, admin, artifacts) };
}

describe('a training round', () => {
  it('runs reward → rejection sampling → SFT → DPO → eval → register end to end, and survives a worker restart', async () => {
    const { handle } = db.current;
    const { version, policy, executor, evalProject, plan, caller } = await setup();
    const input = { name: 'round 1', policyModelId: policy.id, datasetVersionId: version.id, executorId: executor.id, projectId: evalProject.id, plan };

    // The preview shows the exact configs and commands, Llama 3 defaults included.
    const preview = await caller.rounds.preview(input);
    expect(preview.stages.map((s) => s.kind)).toEqual(['reward', 'rejection-sampling', 'sft', 'dpo', 'eval', 'register']);
    const dpoPreview = preview.stages.find((s) => s.kind === 'dpo')!.spec as { config: Record<string, unknown>; command: string[] };
    expect(dpoPreview.config).toMatchObject({ learning_rate: 1e-5, beta: 0.1, loss_type: ['sigmoid', 'sft'], loss_weights: [1.0, 0.2] });
    // Two GPUs of an 8B model: ZeRO-3 under accelerate, TRL's own DPO script.
    expect(dpoPreview.command.slice(0, 2)).toEqual(['accelerate', 'launch']);
    expect(dpoPreview.command.slice(-4, -2)).toEqual([path.join(artifacts, 'runs/preview-3/host/train.py'), 'dpo']);

    let worker = await start();
    const round = await caller.rounds.launch(input);
    expect(round.status).toBe('running');

    // Kill the worker in the middle of SFT; a new one takes the round to the end.
    const sftRun = await wait('the SFT run to be on the executor', async () => {
      const [run] = await handle.db.select().from(runs).where(eq(runs.roundId, round.id)).then((rows) => rows.filter((r) => r.kind === 'sft' && (r.status === 'submitted' || r.status === 'running')));
      return run;
    });
    await worker.stop();
    const [whileStopped] = await handle.db.select().from(runs).where(eq(runs.id, sftRun.id));
    expect(['submitted', 'running', 'succeeded']).toContain(whileStopped!.status);
    worker = await start();

    const finished = await wait(
      'the round to finish',
      async () => {
        const [row] = await handle.db.select().from(rounds).where(eq(rounds.id, round.id));
        return row && row.status !== 'running' ? row : null;
      },
      90_000,
    );
    expect(finished.error).toBeNull();
    expect(finished.status).toBe('succeeded');

    const detail = await caller.rounds.get({ round: round.id });
    expect(detail.runs.map((r) => [r.kind, r.status])).toEqual([
      ['reward', 'succeeded'],
      ['rejection-sampling', 'succeeded'],
      ['sft', 'succeeded'],
      ['dpo', 'succeeded'],
      ['eval', 'succeeded'],
      ['register', 'succeeded'],
    ]);
    const byKind = Object.fromEntries(detail.runs.map((r) => [r.kind, r]));
    const reward = byKind.reward!;
    const sampling = byKind['rejection-sampling']!;
    const sft = byKind.sft!;
    const dpo = byKind.dpo!;

    // Training metrics parsed from trainer_state.json, GPU time counted, logs tailed into the store.
    for (const run of [reward, sft, dpo]) {
      expect(run.training?.series.find((s) => s.name === 'loss')?.points.length).toBeGreaterThan(0);
      expect(run.gpuSeconds).toBeGreaterThan(0);
      expect(run.logTail).toContain('fake-trainer');
      expect(run.artifacts.map((a) => a.key)).toEqual(expect.arrayContaining([runKeys(run.id).config, runKeys(run.id).data('train'), runKeys(run.id).trainerState]));
    }
    expect(dpo.training!.series.map((s) => s.name)).toEqual(expect.arrayContaining(['rewards/accuracies', 'rewards/margins']));
    expect(detail.gpuHours).toBeGreaterThan(0);

    // The DPO config on disk is the Llama 3 one, on the SFT output, reading the explicit-prompt export.
    const dpoConfig = parse(fs.readFileSync(path.join(artifacts, runKeys(dpo.id).config), 'utf8')) as Record<string, unknown>;
    expect(dpoConfig).toMatchObject({ beta: 0.1, learning_rate: 1e-5, loss_type: ['sigmoid', 'sft'], loss_weights: [1.0, 0.2], model_name_or_path: path.join(artifacts, runKeys(sft.id).output) });
    const rewardConfig = fs.readFileSync(path.join(artifacts, runKeys(reward.id).config), 'utf8');
    expect(rewardConfig).not.toMatch(/margin/);
    const rewardData = fs.readFileSync(path.join(artifacts, runKeys(reward.id).data('train')), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rewardData.length).toBeGreaterThan(0);
    expect(Object.keys(rewardData[0]!).sort()).toEqual(['chosen', 'rejected']);
    expect(rewardData[0]).not.toHaveProperty('margin');

    // Rejection sampling scored with the trained reward model's entry and wrote the SFT version SFT trained on.
    expect(sampling.outputVersionId).not.toBeNull();
    expect((sft.spec as { inputs: { source?: { versionId: number } }[] }).inputs[0]!.source?.versionId).toBe(sampling.outputVersionId);
    expect(vllm.counts.classify).toBeGreaterThan(0);
    const [rewardModel] = await handle.db.select().from(models).where(eq(models.id, reward.outputModelId!));
    expect(rewardModel).toMatchObject({ kind: 'reward', serving: 'vllm-classify', roundId: round.id, runId: reward.id, datasetVersionIds: [version.id] });

    // Evaluation: a win rate with its interval, and comparisons for human evaluation.
    const evaluation = (byKind.eval!.metrics as { eval: Record<string, unknown> }).eval;
    expect(evaluation.prompts).toBeGreaterThan(0);
    expect(typeof evaluation.winRateWithTies).toBe('number');
    expect(evaluation.interval).toMatchObject({ level: 0.95, method: 'wilson' });
    expect(evaluation.human).toMatchObject({ project: evalProject.slug });
    const humanComparisons = await handle.db.select().from(comparisons).where(eq(comparisons.projectId, evalProject.id));
    expect(humanComparisons.length).toBe((evaluation.human as { comparisons: number }).comparisons);
    expect(humanComparisons.length).toBeGreaterThan(0);

    // Registration: the new policy with its lineage.
    const [registered] = await handle.db.select().from(models).where(eq(models.name, plan.register.name));
    expect(registered).toMatchObject({
      kind: 'policy',
      serving: 'openai',
      apiModel: 'policy-v1',
      roundId: round.id,
      runId: dpo.id,
      baseModel: 'meta-llama/Llama-3.1-8B-Instruct',
      artifactUri: store.uri(runKeys(dpo.id).output),
    });
    expect([...registered!.datasetVersionIds].sort((a, b) => a - b)).toEqual([version.id, sampling.outputVersionId!].sort((a, b) => a - b));
    expect(byKind.register!.outputModelId).toBe(registered!.id);
    // The gate was decided on the evaluation and the override that let registration through is recorded.
    expect((byKind.eval!.metrics as { eval: { gate: { passed: boolean } } }).eval.gate).toMatchObject({ passed: expect.any(Boolean) });
    const gate = (byKind.register!.metrics as { gate: { passed: boolean; override?: { reason: string } } }).gate;
    if (!gate.passed) expect(gate.override).toEqual({ reason: 'orchestration test with fake scores' });
  }, 150_000);

  it('a failed stage fails the round; a retry runs it again on the same run row; cancel stops the active run', async () => {
    const { handle } = db.current;
    const { version, policy, executor, evalProject, plan, caller } = await setup();
    const config = executor.config as { env: Record<string, string> };
    await handle.db.update(executors).set({ config: { ...config, env: { ...config.env, FAKE_TRAINER_FAIL: '1' } } }).where(eq(executors.id, executor.id));
    await start();
    const round = await caller.rounds.launch({ name: 'round f', policyModelId: policy.id, datasetVersionId: version.id, executorId: executor.id, projectId: evalProject.id, plan });

    const failed = await wait('the round to fail', async () => {
      const [row] = await handle.db.select().from(rounds).where(eq(rounds.id, round.id));
      return row?.status === 'failed' ? row : null;
    });
    expect(failed.currentStage).toBe(0);
    const [failedRun] = await handle.db.select().from(runs).where(eq(runs.roundId, round.id));
    expect(failedRun).toMatchObject({ kind: 'reward', status: 'failed', attempt: 0 });
    expect(failed.error).toBe(failedRun!.error);
    const failedDetail = await caller.rounds.get({ round: round.id });
    expect(failedDetail.runs[0]!.logTail).toContain('OutOfMemoryError');

    // Fixed on the host: the retry is attempt 1 of the same run.
    await handle.db.update(executors).set({ config }).where(eq(executors.id, executor.id));
    const retried = await caller.rounds.retry({ round: round.id });
    expect(retried.status).toBe('running');
    await wait('the retried reward run to succeed', async () => {
      const [run] = await handle.db.select().from(runs).where(eq(runs.id, failedRun!.id));
      return run?.status === 'succeeded' ? run : null;
    });
    // Slow training from here on, so that the cancel lands while SFT runs.
    await handle.db.update(executors).set({ config: { ...config, env: { ...config.env, FAKE_TRAINER_STEP_MS: '2000' } } }).where(eq(executors.id, executor.id));
    const [again] = await handle.db.select().from(runs).where(eq(runs.id, failedRun!.id));
    expect(again!.attempt).toBe(1);
    expect((again!.metrics as { attempts: unknown[] }).attempts).toEqual([expect.objectContaining({ attempt: 0, status: 'failed' })]);
    expect(again!.gpuSeconds).toBeGreaterThan((again!.metrics as { priorGpuSeconds: number }).priorGpuSeconds);

    // Cancel once SFT is on the executor: the run is stopped there and the round ends cancelled.
    const sft = await wait('the SFT run', async () => {
      const rows = await handle.db.select().from(runs).where(eq(runs.roundId, round.id));
      return rows.find((r) => r.kind === 'sft' && (r.status === 'submitted' || r.status === 'running'));
    });
    const cancelled = await caller.rounds.cancel({ round: round.id });
    expect(cancelled.status).toBe('cancelled');
    const stopped = await wait('the SFT run to be cancelled', async () => {
      const [run] = await handle.db.select().from(runs).where(eq(runs.id, sft.id));
      return run?.status === 'cancelled' ? run : null;
    });
    expect(stopped.cancelRequested).toBe(true);
    const [finalRound] = await handle.db.select().from(rounds).where(eq(rounds.id, round.id));
    expect(finalRound!.status).toBe('cancelled');
  }, 150_000);

  it('only platform admins see and launch rounds; a plan that cannot run is a 400 naming the field', async () => {
    const { handle } = db.current;
    const { version, policy, executor, plan, caller } = await setup();
    const annotator = callerFor(handle, db.current.url, await makeUser(handle), artifacts);
    await expect(annotator.rounds.list()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const input = { name: 'r', policyModelId: policy.id, datasetVersionId: version.id, executorId: executor.id, plan };
    await expect(annotator.rounds.launch(input)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(caller.rounds.launch({ ...input, plan: { ...plan, reward: { gpus: 1, config: {} } } })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/plan\.reward\.serving/) });
    await expect(caller.rounds.launch({ ...input, datasetVersionId: 999_999 })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/no dataset version/) });
    await expect(caller.rounds.launch({ ...input, plan: { ...plan, dpo: { gpus: -1, config: {} } } })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await handle.db.select().from(rounds).where(eq(rounds.name, 'r'))).toEqual([]);
  });

  it('Preview refuses what Launch refuses; a job the executor refuses fails its stage with the executor’s words, visibly', async () => {
    const { handle } = db.current;
    const { version, policy, executor, plan, caller } = await setup();
    const input = { name: 'refused', policyModelId: policy.id, datasetVersionId: version.id, executorId: executor.id, plan };
    // More GPUs than the local executor lists: Preview says so, as Launch does.
    const tooBig = { ...input, plan: { ...plan, sft: { gpus: 8, config: {} } } };
    await expect(caller.rounds.preview(tooBig)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/plan\.sft\.gpus: the sft stage needs 8 GPU\(s\); the local executor .* lists 2/) });
    await expect(caller.rounds.launch(tooBig)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/plan\.sft\.gpus/) });
    // Endpoint mode without the reward model's endpoint: both refuse, naming the field.
    const noServing = { ...input, plan: { ...plan, reward: { gpus: 1, config: {} } } };
    await expect(caller.rounds.preview(noServing)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/plan\.reward\.serving/) });

    // The executor changes after launch (its devices are gone): the submit is refused and the stage fails at once.
    await start();
    const round = await caller.rounds.launch(input);
    await handle.db.update(executors).set({ config: { ...(executor.config as object), gpus: [] } }).where(eq(executors.id, executor.id));
    const failed = await wait('the round to fail on the refused submit', async () => {
      const [row] = await handle.db.select().from(rounds).where(eq(rounds.id, round.id));
      return row?.status === 'failed' ? row : null;
    });
    expect(failed.error).toMatch(/the executor refused the job: gpus: the job needs 1 GPU\(s\) and this local executor lists no devices/);
    const detail = await caller.rounds.get({ round: round.id });
    expect(detail.runs[0]).toMatchObject({ kind: 'reward', status: 'failed', error: failed.error });
  }, 60_000);

  it('registration needs the gate: a policy evaluation did not find better is not registered until an admin overrides, with a reason that is recorded', async () => {
    const { handle } = db.current;
    const { version, policy, executor, evalProject, plan, caller } = await setup();
    // An impossible bar: no measured win rate passes it.
    const strict = { ...plan, register: { ...plan.register, gate: { minWinRateLow: 1 } } };
    await start();
    const round = await caller.rounds.launch({ name: 'gated', policyModelId: policy.id, datasetVersionId: version.id, executorId: executor.id, projectId: evalProject.id, plan: strict });
    const failed = await wait(
      'the round to stop at the gate',
      async () => {
        const [row] = await handle.db.select().from(rounds).where(eq(rounds.id, round.id));
        return row && row.status !== 'running' ? row : null;
      },
      90_000,
    );
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/the gate did not pass \(win-rate lower bound .* <= 1\)/);
    expect(await handle.db.select().from(models).where(eq(models.name, plan.register.name))).toEqual([]);

    await expect(caller.rounds.retry({ round: round.id, gateOverrideReason: '   ' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await caller.rounds.retry({ round: round.id, gateOverrideReason: 'shipping for the human evaluation anyway' });
    const done = await wait('the overridden registration', async () => {
      const [row] = await handle.db.select().from(rounds).where(eq(rounds.id, round.id));
      return row?.status === 'succeeded' ? row : null;
    });
    const detail = await caller.rounds.get({ round: round.id });
    const registerRun = detail.runs.find((r) => r.kind === 'register')!;
    expect(registerRun.attempt).toBe(1);
    expect((registerRun.metrics as { gate: Record<string, unknown> }).gate).toMatchObject({ passed: false, override: { reason: 'shipping for the human evaluation anyway' } });
    expect(done.status).toBe('succeeded');
  }, 120_000);

  it('deploys the new policy as a job on the executor, registers its endpoint, and stops the deployment it supersedes', async () => {
    const { handle } = db.current;
    const { version, policy, executor, plan, caller } = await setup();
    await start();
    const ports = [await findFreePort(), await findFreePort()];
    const waitRound = (id: number) =>
      wait(
        `round ${id} to end`,
        async () => {
          const [row] = await handle.db.select().from(rounds).where(eq(rounds.id, id));
          return row && row.status !== 'running' ? row : null;
        },
        90_000,
      );
    const answers = (port: number) => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);

    const first = await caller.rounds.launch({ name: 'deploy 1', policyModelId: policy.id, datasetVersionId: version.id, executorId: executor.id, plan: { ...plan, deploy: { enabled: true, gpus: 0, port: ports[0]!, healthTimeoutSeconds: 60 } } });
    const firstDone = await waitRound(first.id);
    expect(firstDone.error).toBeNull();
    expect(firstDone.status).toBe("succeeded");
    const [v1] = await handle.db.select().from(models).where(eq(models.name, plan.register.name));
    expect(v1).toMatchObject({ serving: 'openai', enabled: true, baseUrl: `http://127.0.0.1:${ports[0]}/v1`, apiModel: path.join(artifacts, runKeys(v1!.runId!).output) });
    expect(await answers(ports[0]!)).toBe(true);

    // The next round starts from that policy and deploys its successor: the old server is stopped.
    const next = { ...plan, register: { ...plan.register, name: `${plan.register.name}-next` }, deploy: { enabled: true, gpus: 0, port: ports[1]!, healthTimeoutSeconds: 60 } };
    const second = await caller.rounds.launch({ name: 'deploy 2', policyModelId: v1!.id, datasetVersionId: version.id, executorId: executor.id, plan: next });
    const secondDone = await waitRound(second.id);
    expect(secondDone.error).toBeNull();
    expect(secondDone.status).toBe("succeeded");
    const detail = await caller.rounds.get({ round: second.id });
    const deployRun = detail.runs.find((r) => r.kind === 'deploy')!;
    const firstDeploy = (await caller.rounds.get({ round: first.id })).runs.find((r) => r.kind === 'deploy')!;
    expect(deployRun.metrics).toMatchObject({ deployment: { baseUrl: `http://127.0.0.1:${ports[1]}/v1` }, superseded: [firstDeploy.id] });
    expect((await handle.db.select().from(runs).where(eq(runs.id, firstDeploy.id)))[0]!.metrics).toMatchObject({ stoppedBy: deployRun.id });
    const [v1After] = await handle.db.select().from(models).where(eq(models.id, v1!.id));
    expect(v1After).toMatchObject({ serving: 'none', enabled: false });
    await wait('the superseded server to stop', async () => !(await answers(ports[0]!)), 20_000);
    expect(await answers(ports[1]!)).toBe(true);
  }, 200_000);
});

