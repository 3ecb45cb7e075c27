/**
 * Rejection sampling against a fake vLLM with a fixed latency L per request (BENCH_LATENCY_MS,
 * default 50) at C requests in flight (BENCH_CONCURRENCY, default 32): by Little's law the
 * best possible rate is C / L requests per second. Prints the achieved rate, its ratio to C / L
 * (the goal is at least 0.9: the limiter keeps every slot busy and the worker's own work —
 * JSON, database writes, the SFT file — hides behind the requests), and the worker's CPU time
 * per 1,000 samples. BENCH_PROMPTS prompts (default 600) of BENCH_K samples (default 10): one
 * chat request with n = K and K scoring requests per prompt. The fake runs in a child process,
 * so its work is neither on this process's CPU clock nor in its event loop.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { localArtifactStore } from '@/server/artifacts/store';
import { createProject } from '@/server/projects/projects';
import { runRejectionSampling } from '@/server/sampling/rejection-sampling';
import { addModel, addPrompts, addRun } from '../helpers/sampling-fixtures';
import { benchDatabase, round } from './bench-database';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const PROMPTS = Number(process.env.BENCH_PROMPTS ?? 600);
const K = Number(process.env.BENCH_K ?? 10);

async function startFakeProcess(): Promise<{ baseUrl: string; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '..', 'helpers', 'fake-vllm.ts')], {
    env: { ...process.env, FAKE_VLLM_LATENCY_MS: String(LATENCY_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the fake vLLM exited with ${code}`)));
  });
  return { baseUrl: (JSON.parse(first) as { baseUrl: string }).baseUrl, stop: () => child.kill('SIGTERM') };
}

async function fakeStats(baseUrl: string): Promise<{ chat: number; classify: number; choices: number }> {
  return (await fetch(`${baseUrl.replace(/\/v1$/, '')}/stats`)).json() as Promise<{ chat: number; classify: number; choices: number }>;
}

export async function run(): Promise<void> {
  const database = await benchDatabase();
  const fake = await startFakeProcess();
  const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-bench-sampling-'));
  try {
    const handle = database.handle;
    const project = await createProject(handle.db, { slug: 'bench-sampling', name: 'Sampling bench', judgmentsRequired: 1, leaseSeconds: 900 });
    const texts = Array.from({ length: PROMPTS }, (_, i) => `prompt ${i}: write a short answer about the sea, please`);
    const ids = await addPrompts(handle, project.id, texts);
    const policy = await addModel(handle, { kind: 'policy', baseUrl: fake.baseUrl, apiModel: 'bench-policy', sampling: { temperature: 0.8, max_tokens: 256 } });
    const reward = await addModel(handle, { kind: 'reward', baseUrl: fake.baseUrl, apiModel: 'bench-rm' });
    const spec = { policyModelId: policy.id, rewardModelId: reward.id, prompts: { projectSlug: project.slug }, k: K, concurrency: CONCURRENCY };
    console.log(`sampling bench: ${PROMPTS} prompts x K=${K}, latency ${LATENCY_MS} ms, concurrency ${CONCURRENCY}, ${os.cpus().length} cores`);

    // A warm-up run (connections, JIT, the first queries), not measured.
    const warmUp = await addRun(handle, 'rejection-sampling', { ...spec, prompts: { promptIds: ids.slice(0, Math.min(20, ids.length)) } });
    await runRejectionSampling(handle, localArtifactStore(artifacts), warmUp.id);

    const runRow = await addRun(handle, 'rejection-sampling', spec);
    const before = await fakeStats(fake.baseUrl);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const done = await runRejectionSampling(handle, localArtifactStore(artifacts), runRow.id);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const after = await fakeStats(fake.baseUrl);
    if (done?.status !== 'succeeded') throw new Error(`the run ended ${done?.status}: ${done?.error}`);

    const requests = after.chat - before.chat + (after.classify - before.classify);
    const samples = PROMPTS * K;
    const rate = requests / seconds;
    const little = CONCURRENCY / (LATENCY_MS / 1000);
    const cpuMs = (used.user + used.system) / 1000;
    console.log(`requests: ${requests.toLocaleString('en')} (${after.chat - before.chat} chat with n=${K}, ${after.classify - before.classify} /classify) in ${seconds.toFixed(2)} s`);
    console.log(`achieved ${rate.toFixed(1)} requests/s; C/L = ${little.toFixed(1)} requests/s; ratio ${(rate / little).toFixed(3)}`);
    console.log(`worker CPU: ${cpuMs.toFixed(0)} ms (user ${(used.user / 1000).toFixed(0)}, system ${(used.system / 1000).toFixed(0)}) for ${samples.toLocaleString('en')} samples = ${((cpuMs / samples) * 1000).toFixed(1)} ms per 1,000 samples`);
    console.log(`SFT version ${done.outputVersionId}: ${PROMPTS} conversations`);
    console.log(
      `{"bench": "sampling", "requests_per_s": ${round(rate, 1)}, "ratio_to_little": ${round(rate / little, 3)}, "cpu_ms_per_1000": ${round((cpuMs / samples) * 1000, 1)}}`,
    );
  } finally {
    fake.stop();
    fs.rmSync(artifacts, { recursive: true, force: true });
    await database.close();
  }
}
