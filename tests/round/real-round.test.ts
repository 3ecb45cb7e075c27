/**
 * A whole training round with the real trainers, on this machine's CPU (`npm run test:round`):
 * two tiny Llama-architecture policies built here (random weights, a BPE tokenizer trained here,
 * TRL's Llama 3.1 chat template), served by `transformers serve`, answer prompts; simulated
 * annotators label the comparisons through the web app's HTTP API by a rule a model can learn (the
 * answer that says "banana" is better); a dataset version freezes the labels; then the round runs
 * through the local executor: the real `trl reward`, rejection sampling on the host, the real SFT
 * (cancelled after a checkpoint and retried: it resumes), the real DPO with Llama 3's settings,
 * evaluation on held-out prompts, the gate, registration, and the next round's generation by the
 * new policy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { comparisons, executors, models, prompts, rounds, runs, type TMessage } from '@/db/schema';
import { contentHash } from '@/server/content/hash';
import { localArtifactStore } from '@/server/artifacts/store';
import { buildDatasetVersion } from '@/server/datasets/build-version';
import type { TRoundPlanInput } from '@/server/rounds/plan';
import { runKeys } from '@/server/rounds/specs';
import { runGeneration } from '@/server/sampling/generation';
import { ZGenerationSpec } from '@/server/sampling/schemas';
import { startWorker, type TRunningWorker } from '@/workers/run-worker';
import { startApp, type TRunningApp } from '../helpers/app-process';
import { findFreePort } from '@/db/embedded';
import { setupTestDatabase } from '../helpers/db';
import { stopDeployments, until } from '../helpers/rounds';
import { callerFor, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { signInOverHttp } from '../helpers/http-session';
import { hostEnv, hostVenv, runPython, startTransformersServe, type TServedModels } from '../helpers/host-python';
import { startSlurmCluster, type TSlurmCluster } from '../slurm/cluster';

const venv = hostVenv();
if (!venv) {
  const message = 'no trainer environment (.venv): run `bash workers/host/setup-venv.sh` (npm run test:round does)';
  if (process.env.CI) throw new Error(message);
  console.warn(`skipping the real round: ${message}`);
}

/**
 * Where the round's GPU stages run: the local executor, or (PAIRWISE_ROUND_EXECUTOR=slurm, as
 * `npm run test:slurm` sets it) a real Slurm cluster started on this machine for the test.
 */
const executorKind = process.env.PAIRWISE_ROUND_EXECUTOR === 'slurm' ? 'slurm' : 'local';
let cluster: TSlurmCluster | null = null;

const MARKER = 'banana';
const db = setupTestDatabase();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-real-round-'));
const artifacts = path.join(scratch, 'artifacts');
const store = localArtifactStore(artifacts);
const env = venv ? hostEnv(venv.bin, scratch) : {};
const workers: TRunningWorker[] = [];
const workerLog: string[] = [];
let served: TServedModels | null = null;

const words = 'the quick brown fox jumps over lazy dog sea wide blue deep paris capital france red green apple cherry grape lemon'.split(' ');
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}
const random = rng(7);
const phrase = (n: number) => Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(' ');

/**
 * Two policies that differ in how often they say the marker: both are a random tiny Llama taught
 * by a real SFT run on answers of which 30% (A) or 70% (B) carry it. Both say it sometimes, so
 * in the decisive pairs either side can be the better one: the reward model has to learn the
 * word, not which model wrote the answer.
 */
async function buildPolicies(): Promise<{ a: string; b: string }> {
  const base = path.join(scratch, 'models', 'tiny-llama-3.1-base');
  await runPython(venv!.python, ['tests/fixtures/make_tiny_llama.py', base, '--seed', '0'], env);
  const teach = async (name: string, share: number) => {
    const data = path.join(scratch, `${name}-data`);
    fs.mkdirSync(data, { recursive: true });
    const lines = Array.from({ length: 96 }, (_, i) => {
      const answer = random() < share ? `${MARKER} ${phrase(3)} ${MARKER}` : phrase(5);
      return JSON.stringify({ prompt: [{ role: 'user', content: `question ${i}: ${phrase(5)}` }], completion: [{ role: 'assistant', content: answer }] });
    });
    fs.writeFileSync(path.join(data, 'train.jsonl'), lines.join('\n') + '\n');
    const output = path.join(scratch, 'models', `tiny-llama-3.1-${name}`);
    const config = { model_name_or_path: base, dataset_name: data, output_dir: output, learning_rate: 5e-3, num_train_epochs: 4, per_device_train_batch_size: 16, max_length: 128, bf16: false, use_cpu: true, report_to: 'none', save_strategy: 'no', logging_steps: 5 };
    fs.writeFileSync(path.join(scratch, `${name}.json`), JSON.stringify(config));
    await runPython(venv!.python, ['workers/host/train.py', 'sft', '--config', path.join(scratch, `${name}.json`)], env);
    return output;
  };
  return { a: await teach('a', 0.3), b: await teach('b', 0.7) };
}

const wait = <T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs?: number) => until(db.current.handle, workerLog, what, check, timeoutMs);

/** CPU-sized overrides: the tiny model learns in seconds; the Llama 3 values (lr 1e-5) would need hours. */
const cpu = { bf16: false, use_cpu: true, dtype: 'float32', gradient_checkpointing: false, gradient_accumulation_steps: 1, per_device_train_batch_size: 8, per_device_eval_batch_size: 8, max_length: 256, logging_steps: 2, save_steps: 4 };

let deployPort = 0;
let app: TRunningApp | null = null;

afterAll(async () => {
  await app?.stop();
  if (venv) await stopDeployments(db.current.handle, store);
  for (const worker of workers) await worker.stop().catch(() => {});
  await stopSharedQueue();
  await served?.close();
  await cluster?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!venv)(`a real training round on CPU${executorKind === 'slurm' ? ', through Slurm' : ''}`, () => {
  beforeAll(async () => {
    if (executorKind === 'slurm') cluster = await startSlurmCluster();
    served = await startTransformersServe(venv!.bin, env);
    deployPort = await findFreePort();
  }, 120_000);

  it('trains, samples, evaluates, gates and registers for real, and the new policy answers the next round', async () => {
    const { handle, url } = db.current;
    const timings: string[] = [];
    const t0 = Date.now();
    const { a, b } = await buildPolicies();
    timings.push(`policies built (A and B: real SFT runs on 30% and 70% marker answers): ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // Two registered policies, served by transformers serve; their answers become comparisons.
    const admin = await makeUser(handle, 'admin');
    const adminCaller = callerFor(handle, url, admin, artifacts);
    const register = (name: string, folder: string) =>
      adminCaller.models.register({ name, kind: 'policy', serving: 'openai', baseUrl: served!.baseUrl, apiModel: folder, artifactUri: folder, baseModel: 'tiny-llama-3.1', sampling: { temperature: 1, max_tokens: 24 } });
    const policyA = await register('tiny-a', a);
    const policyB = await register('tiny-b', b);
    const annotators = [await makeUser(handle), await makeUser(handle)];
    const project = await makeProject(handle, { members: annotators.map((user) => ({ user, role: 'annotator' as const })) });
    const promptLines: TMessage[][] = Array.from({ length: 240 }, (_, i) => [{ role: 'user', content: `question ${i}: ${phrase(6)}` }]);
    const addPrompts = (projectId: number, list: TMessage[][]) => handle.db.insert(prompts).values(list.map((messages) => ({ projectId, messages, contentHash: contentHash(messages) })));
    await addPrompts(project.id, promptLines);
    const genStart = Date.now();
    const spec = ZGenerationSpec.parse({ policyModelIds: [policyA.id, policyB.id], prompts: { projectSlug: project.slug }, projectSlug: project.slug, concurrency: 4 });
    const [genRow] = await handle.sql<{ id: string }[]>`insert into runs (kind, status, spec) values ('generate', 'pending', ${JSON.stringify(spec)}::jsonb) returning id`;
    const generated = await runGeneration(handle, Number(genRow!.id));
    expect(generated?.status, generated?.error ?? '').toBe('succeeded');
    timings.push(`generation through transformers serve (240 prompts x 2 models): ${((Date.now() - genStart) / 1000).toFixed(1)} s`);

    // Simulated annotators label through the running web app: the real sign-in and /api/trpc over HTTP.
    const appStart = Date.now();
    app = await startApp({ env: { ...process.env, DATABASE_URL: url, PAIRWISE_DATA_DIR: path.join(scratch, 'app-data'), PAIRWISE_ARTIFACTS_DIR: artifacts } });
    timings.push(`web app started (and built when stale): ${((Date.now() - appStart) / 1000).toFixed(1)} s`);
    let labelled = 0;
    let decisive = 0;
    type TLease = { items: { handle: string; responses: { messages: TMessage[] }[] }[] };
    const sessions = await Promise.all(annotators.map((annotator) => signInOverHttp(app!.baseUrl, annotator.email, 'correct horse battery')));
    const callers = sessions.map((session) => ({
      annotation: {
        lease: (input: { project: string; want: number }) => session.mutation<TLease>('annotation.lease', input),
        submit: (input: Record<string, unknown>) => session.mutation('annotation.submit', input),
      },
    }));
    // Turn by turn, so both annotators label and the labels trace back to each of them.
    for (let turn = 0, idle = 0; idle < callers.length; turn++) {
      const caller = callers[turn % callers.length]!;
      const { items } = await caller.annotation.lease({ project: project.slug, want: 1 });
      const item = items[0];
      if (!item) {
        idle += 1;
        continue;
      }
      idle = 0;
      const says = item.responses.map((r) => r.messages.map((m) => m.content).join(' ').toLowerCase().includes(MARKER));
      const clear = says[0] !== says[1];
      const chosen = clear ? (says[0] ? 0 : 1) : Math.floor(random() * 2);
      await caller.annotation.submit({ handle: item.handle, clientSubmissionId: `simulated-${turn}-${item.handle}`, chosenPosition: chosen, strength: clear ? 'significantly_better' : 'marginally_better', timeSpentMs: 1000 });
      labelled += 1;
      if (clear) decisive += 1;
    }
    expect(decisive).toBeGreaterThan(40);
    timings.push(`${labelled} judgments over HTTP by ${annotators.length} simulated annotators, ${decisive} decisive`);
    // The app's own worker would take round jobs too: the round runs with the test's worker alone.
    await app.stop();
    app = null;

    const requested = await adminCaller.datasets.build({ name: 'round 1 data', spec: { projects: [project.slug], testFraction: 0.35 } });
    const version = await buildDatasetVersion(handle, store, requested.id);
    expect(version?.status).toBe('succeeded');

    // The round, through the local executor (or Slurm's sbatch) running the real trainers from the venv.
    const executorRow =
      executorKind === 'slurm'
        ? { name: 'cpu-cluster', kind: 'slurm' as const, config: { slurmConf: cluster!.conf, partition: 'debug', jobDir: path.join(scratch, 'slurm-jobs'), env, timeLimit: '30:00' } }
        : { name: 'cpu-host', kind: 'local' as const, config: { gpus: [], env, stateDir: path.join(scratch, 'executor-state'), killGraceSeconds: 2 } };
    const [executor] = await handle.db.insert(executors).values(executorRow).returning();
    const evalProject = await makeProject(handle);
    // The next round's project, with new prompts: the round's last stage fills it with comparisons.
    const nextRound = await makeProject(handle);
    const nextPrompts: TMessage[][] = Array.from({ length: 12 }, (_, i) => [{ role: 'user', content: `next question ${i}: ${phrase(6)}` }]);
    await addPrompts(nextRound.id, nextPrompts);
    const plan: TRoundPlanInput = {
      baseModel: a,
      reward: { gpus: 0, config: { ...cpu, learning_rate: 3e-3, num_train_epochs: 10 } },
      rejectionSampling: { mode: 'host', k: 4, gpus: 0, sampling: { temperature: 1, max_tokens: 24 } },
      // Slow enough (several seconds) to be cancelled after its first checkpoint.
      sft: { gpus: 0, config: { ...cpu, per_device_train_batch_size: 1, learning_rate: 1e-3, num_train_epochs: 2 } },
      // Enough DPO for the tiny policy to take up the rule every run (the gate needs a clear win).
      dpo: { gpus: 0, config: { ...cpu, learning_rate: 5e-3, num_train_epochs: 8 } },
      eval: { mode: 'host', gpus: 0, maxPrompts: 60, sampling: { temperature: 1, max_tokens: 24 }, humanProject: evalProject.slug, humanComparisons: 5 },
      register: { name: 'tiny-round-1' },
      // The new policy is served by a job on the executor (transformers serve here, vLLM on GPU hosts).
      deploy: { enabled: true, gpus: 0, port: deployPort, healthTimeoutSeconds: 180, ...(executorKind === 'slurm' ? { host: '127.0.0.1' } : {}) },
      // The next round's comparisons, generated on the host: the new policy, the one it started from, and policy B.
      nextRound: { enabled: true, project: nextRound.slug, opponents: ['previous', 'tiny-b'], pairing: 'all-pairs', maxPrompts: 12, gpus: 0, sampling: { temperature: 1, max_tokens: 24 } },
    };
    const input = { name: 'real round 1', policyModelId: policyA.id, datasetVersionId: version!.id, executorId: executor!.id, projectId: evalProject.id, plan };
    const preview = await adminCaller.rounds.preview(input);
    expect(preview.stages.map((s) => [s.kind, s.spec.runner])).toEqual([
      ['reward', 'executor'],
      ['rejection-sampling', 'executor'],
      ['sft', 'executor'],
      ['dpo', 'executor'],
      ['eval', 'executor'],
      ['register', 'worker'],
      ['deploy', 'executor'],
      ['generate', 'executor'],
    ]);
    // The Llama 3 pad token, from the model's name, in every trainer config.
    for (const s of preview.stages.filter((x) => ['reward', 'sft', 'dpo'].includes(x.kind))) expect((s.spec as { config: Record<string, unknown> }).config.pad_token).toBe('<|finetune_right_pad_id|>');

    workers.push(await startWorker(url, { db: handle, store, pollSeconds: 0.3 }, (line) => workerLog.push(line)));
    const roundStart = Date.now();
    const round = await adminCaller.rounds.launch(input);

    // Cancel SFT once it has written a checkpoint; the retry must resume from it.
    const sftRun = await wait('SFT to write a checkpoint', async () => {
      const [run] = (await handle.db.select().from(runs).where(eq(runs.roundId, round.id))).filter((r) => r.kind === 'sft' && r.status === 'running');
      if (!run) return null;
      const output = path.join(artifacts, runKeys(run.id).output);
      const checkpoints = fs.existsSync(output) ? fs.readdirSync(output).filter((d) => /^checkpoint-\d+$/.test(d) && fs.existsSync(path.join(output, d, 'trainer_state.json'))) : [];
      return checkpoints.length ? run : null;
    }, 420_000);
    await adminCaller.rounds.cancel({ round: round.id });
    await wait('the cancelled SFT run', async () => {
      const [run] = await handle.db.select().from(runs).where(eq(runs.id, sftRun.id));
      return run?.status === 'cancelled' ? run : null;
    }, 60_000);
    await adminCaller.rounds.retry({ round: round.id });

    const finished = await wait('the round to end', async () => {
      const [row] = await handle.db.select().from(rounds).where(eq(rounds.id, round.id));
      return row && row.status !== 'running' ? row : null;
    }, 480_000);
    const detail = await adminCaller.rounds.get({ round: round.id, logTailBytes: 200_000 });
    for (const run of detail.runs) {
      const spec = run.spec as { command?: string[] };
      const seconds = run.startedAt && run.finishedAt ? ((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(1) : '-';
      timings.push(`${run.kind} (attempt ${run.attempt}) ${run.status} in ${seconds} s: ${spec.command ? spec.command.join(' ').slice(0, 300) : 'in the worker'}`);
    }
    timings.push(`round: ${((Date.now() - roundStart) / 1000).toFixed(1)} s`);
    const metricsOf = (kind: string) => detail.runs.find((r) => r.kind === kind)?.metrics as Record<string, unknown> | undefined;
    timings.push(`reward model held-out: ${JSON.stringify(metricsOf('reward')?.heldOut ?? null)}`);
    const evalSummary = metricsOf('eval')?.eval as { winRate?: number; wins?: number; losses?: number; ties?: number; gate?: unknown } | undefined;
    timings.push(`evaluation: win rate ${evalSummary?.winRate?.toFixed(3)} (${evalSummary?.wins} wins, ${evalSummary?.losses} losses, ${evalSummary?.ties} ties), gate ${JSON.stringify(evalSummary?.gate ?? null)}`);
    console.log(`\nreal round on CPU:\n  ${timings.join('\n  ')}\n`);
    expect(finished.error, JSON.stringify(detail.runs.map((r) => [r.kind, r.status, r.error]))).toBeNull();
    expect(finished.status).toBe('succeeded');

    const byKind = Object.fromEntries(detail.runs.map((r) => [r.kind, r]));
    // Every executor stage ran TRL's own script or the host sampler, and exited 0.
    for (const kind of ['reward', 'sft', 'dpo'] as const) {
      const run = byKind[kind]!;
      expect(run.status).toBe('succeeded');
      expect(run.logTail).toContain(`pairwise: running trl.scripts.${kind}`);
      expect(run.logTail).toMatch(/Training completed/);
      expect(run.training?.series.find((s) => s.name === 'loss')?.points.length).toBeGreaterThan(0);
    }
    expect(byKind['rejection-sampling']!.logTail).toContain('pairwise: TransformersEngine');

    // The reward model learned the rule: held-out accuracy above 0.8, overall and for the decisive level.
    const heldOut = (byKind.reward!.metrics as { heldOut: { accuracy: number; pairs: number; byStrength: Record<string, { accuracy: number }> } }).heldOut;
    expect(heldOut.pairs).toBeGreaterThan(5);
    expect(heldOut.accuracy).toBeGreaterThan(0.8);
    expect(heldOut.byStrength.significantly_better!.accuracy).toBeGreaterThan(0.8);
    const rewardEval = byKind.reward!.training!.series.find((s) => s.name === 'eval_accuracy');
    expect(rewardEval?.points.at(-1)?.value).toBeGreaterThan(0.8);
    // DPO's held-out reward accuracy (its implicit reward on the test split).
    const dpoEval = byKind.dpo!.training!.series.find((s) => s.name === 'eval_rewards/accuracies');
    expect(dpoEval?.points.at(-1)?.value).toBeGreaterThan(0.5);

    // The retried SFT resumed from its checkpoint.
    const sft = byKind.sft!;
    expect(sft.attempt).toBe(1);
    expect(sft.logTail).toMatch(/pairwise: resuming from .*checkpoint-\d+/);

    // No evaluation prompt reached training data: not in the SFT file, not in the reward or DPO training files.
    const evaluation = (byKind.eval!.metrics as { eval: { promptIds: number[]; gate: { passed: boolean }; winRate: number; prompts: number; human: { comparisons: number } } }).eval;
    expect(evaluation.prompts).toBeGreaterThan(10);
    const evalPrompts = new Set((await handle.sql<{ messages: unknown }[]>`select messages from prompts where id = any(${evaluation.promptIds}::bigint[])`).map((r) => JSON.stringify(r.messages)));
    const trainingPrompts = new Set<string>();
    const read = (run: (typeof detail.runs)[number], name: string) => fs.readFileSync(path.join(artifacts, runKeys(run.id).data(name)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const line of read(sft, 'train')) trainingPrompts.add(JSON.stringify(line.prompt));
    for (const line of read(byKind.dpo!, 'train')) trainingPrompts.add(JSON.stringify(line.prompt));
    for (const line of read(byKind.reward!, 'train')) trainingPrompts.add(JSON.stringify((line.chosen as unknown[]).slice(0, -1)));
    expect(trainingPrompts.size).toBeGreaterThan(10);
    expect([...evalPrompts].filter((p) => trainingPrompts.has(p))).toEqual([]);
    // SFT trained on prompt/completion lines (the completion only is learned, whatever the chat template).
    expect(Object.keys(read(sft, 'train')[0]!).sort()).toEqual(['completion', 'prompt']);

    // The gate passed on a measured win rate, and the new policy is registered with its lineage.
    expect(evaluation.gate.passed).toBe(true);
    expect(evaluation.winRate).toBeGreaterThan(0.5);
    expect(evaluation.human.comparisons).toBe(5);
    const [registered] = await handle.db.select().from(models).where(eq(models.name, 'tiny-round-1'));
    expect(registered).toMatchObject({ kind: 'policy', roundId: round.id, runId: byKind.dpo!.id, artifactUri: store.uri(runKeys(byKind.dpo!.id).output) });
    expect(registered!.datasetVersionIds).toContain(version!.id);
    const [traced] = await handle.sql<{ judgments: number; annotators: number }[]>`
      select count(*)::int as judgments, count(distinct j.annotator_id)::int as annotators
      from dataset_version_judgments v join judgments j on j.id = v.judgment_id where v.version_id = ${registered!.datasetVersionIds[0]!}`;
    expect(traced!.judgments).toBeGreaterThan(20);
    expect(traced!.annotators).toBe(2);
    const dpoConfig = parse(fs.readFileSync(path.join(artifacts, runKeys(byKind.dpo!.id).config), 'utf8')) as Record<string, unknown>;
    expect(dpoConfig).toMatchObject({ beta: 0.1, loss_type: ['sigmoid', 'sft'], loss_weights: [1.0, 0.2], warmup_steps: 0.03, save_total_limit: 2 });
    expect(dpoConfig).not.toHaveProperty('warmup_ratio');

    // Deployed: the registered model now answers at the deployment's endpoint.
    const [deployed] = await handle.db.select().from(models).where(eq(models.name, 'tiny-round-1'));
    expect(deployed).toMatchObject({ serving: 'openai', enabled: true, baseUrl: `http://127.0.0.1:${deployPort}/v1`, apiModel: path.join(artifacts, runKeys(byKind.dpo!.id).output) });
    expect(byKind.deploy!.logTail ?? '').not.toMatch(/Traceback/);

    // The next round's comparisons from the host job: every pair of the three models per prompt.
    const generation = (byKind.generate!.metrics as { generation: { prompts: number; comparisons: number } }).generation;
    expect(generation).toMatchObject({ prompts: 12, comparisons: 36 });
    const hostComparisons = await handle.db.select().from(comparisons).where(eq(comparisons.projectId, nextRound.id));
    expect(hostComparisons).toHaveLength(36);
    expect(new Set(hostComparisons.map((c) => JSON.stringify((c.metadata as { models: string[] }).models.slice().sort())))).toEqual(
      new Set([JSON.stringify(['tiny-a', 'tiny-round-1']), JSON.stringify(['tiny-a', 'tiny-b']), JSON.stringify(['tiny-b', 'tiny-round-1'])]),
    );
    expect(hostComparisons.every((c) => (c.metadata as { round?: number }).round === round.id)).toBe(true);

    // And from the deployment: the new policy answers over HTTP, against policy B (live generation's path).
    const next = await makeProject(handle);
    await addPrompts(next.id, promptLines.slice(0, 12));
    const nextSpec = ZGenerationSpec.parse({ policyModelIds: [deployed!.id, policyB.id], prompts: { projectSlug: next.slug }, projectSlug: next.slug, concurrency: 4 });
    const [nextRow] = await handle.sql<{ id: string }[]>`insert into runs (kind, status, spec) values ('generate', 'pending', ${JSON.stringify(nextSpec)}::jsonb) returning id`;
    const nextRun = await runGeneration(handle, Number(nextRow!.id));
    expect(nextRun?.status, nextRun?.error ?? '').toBe('succeeded');
    const nextComparisons = await handle.db.select().from(comparisons).where(eq(comparisons.projectId, next.id));
    expect(nextComparisons.length).toBe(12);
  }, 900_000);
});
