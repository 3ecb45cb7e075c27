import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '@/db/embedded';
import { checkPlanAgainst } from '@/server/rounds/launch';
import { ZRoundPlan } from '@/server/rounds/plan';
import type { TRayExecutorConfig } from '@/server/executors/schemas';
import { shellQuote } from '@/workers/executors/common';
import { rayEntrypoint, rayExecutor, rayMultiNodeDriver, rayMultiNodeDriverPath } from '@/workers/executors/ray';
import type { TExecutorJob } from '@/workers/executors/types';

/**
 * Ray over several nodes, for real: a Ray cluster of two nodes (two raylets on this machine, each
 * declaring one GPU, with node addresses 127.0.0.3 and 127.0.0.2), and the entrypoint the Ray
 * executor submits, run as Ray's job supervisor runs it (`/bin/sh -c <entrypoint>` with the node's
 * environment, runtime_env.env_vars and RAY_ADDRESS). Ray's job server (the dashboard) is not in
 * the core wheel, so the submission itself goes to a stand-in; what the supervisor does with it is
 * done here. Ray comes from workers/host/requirements-ray.txt, installed into a venv of its own
 * (PAIRWISE_RAY_VENV, else node_modules/.cache/pairwise-ray-venv); where it cannot be installed
 * the cluster tests are skipped, except under CI=true, where that is a failure.
 */

const requirements = path.resolve('workers/host/requirements-ray.txt');

function pipIndexArgs(): string[] {
  // As workers/host/setup-venv.sh: a local index listed only as an extra one becomes the index.
  if (process.env.PIP_INDEX_URL) return [];
  const config = spawnSync('pip', ['config', 'list'], { encoding: 'utf8' }).stdout ?? '';
  const local = /^global\.extra-index-url='(file:[^ ']*)/m.exec(config)?.[1];
  return local ? ['--index-url', local] : [];
}

/** A venv with the pinned Ray, made once and reused while requirements-ray.txt is unchanged. */
function rayVenv(): { bin: string } | { why: string } {
  const venv = path.resolve(process.env.PAIRWISE_RAY_VENV ?? 'node_modules/.cache/pairwise-ray-venv');
  const bin = path.join(venv, 'bin');
  const stamp = path.join(venv, '.requirements.sha256');
  const want = createHash('sha256').update(fs.readFileSync(requirements)).digest('hex');
  if (fs.existsSync(path.join(bin, 'ray')) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === want) return { bin };
  const steps: [string, string[]][] = [
    ['python3', ['-m', 'venv', venv]],
    [path.join(bin, 'pip'), ['install', '--disable-pip-version-check', '--quiet', ...pipIndexArgs(), '-r', requirements]],
    [path.join(bin, 'python'), ['-c', 'import ray, ray.util.placement_group']],
  ];
  for (const [program, args] of steps) {
    const done = spawnSync(program, args, { encoding: 'utf8', timeout: 600_000 });
    if (done.status !== 0) return { why: `could not install ${path.relative(process.cwd(), requirements)} into ${venv} (${[program, ...args].join(' ')}: ${(done.stderr || done.error?.message || `exit ${done.status}`).trim().split('\n').slice(-3).join(' / ')})` };
  }
  fs.writeFileSync(stamp, want);
  return { bin };
}

const found = rayVenv();
const skipWhy = 'why' in found ? found.why : undefined;
if (skipWhy && process.env.CI === 'true') throw new Error(`CI=true and Ray is not installable: ${skipWhy}`);
const rayBin = 'bin' in found ? found.bin : '';

/** The Ray executor's submission for a job, caught before it would reach a job server. */
async function submissionFor(job: TExecutorJob, config: Partial<TRayExecutorConfig> = {}) {
  const posts: { entrypoint: string; entrypoint_num_gpus: number; runtime_env: { env_vars: Record<string, string> }; submission_id: string }[] = [];
  const fakeFetch = (async (_url: string, init: RequestInit) => {
    posts.push(JSON.parse(String(init.body)) as (typeof posts)[number]);
    return new Response(JSON.stringify({ submission_id: posts.at(-1)!.submission_id }), { status: 200 });
  }) as unknown as typeof fetch;
  const executor = rayExecutor({ address: 'http://ray-head.invalid:8265', secretEnv: { HF_TOKEN: 'PAIRWISE_TEST_NODE_TOKEN' }, runtimeEnv: { env_vars: { HF_HUB_OFFLINE: '1' } }, ...config } as TRayExecutorConfig, { fetch: fakeFetch, env: {} });
  await executor.submit(job);
  return posts[0]!;
}

const multiNodeJob = (script: string, env: Record<string, string> = {}, nodes = 2, gpus = 1): TExecutorJob => ({
  runId: 41,
  attempt: 0,
  // The shape of a multi-node training command: `bash -c` reading the rank and rank 0's address.
  command: ['bash', '-c', script],
  env: { GREETING: "it's me", PAIRWISE_NODE_RANK: 'not-ours', ...env },
  gpus,
  nodes,
  artifactPrefix: 'runs/41/',
});

describe('the Ray submission of a job over several nodes', () => {
  it('submits the driver with the command after `--`, every job variable and secret by name only, and no GPU for the driver', async () => {
    const job = multiNodeJob('echo "$PAIRWISE_NODE_RANK"', {}, 4, 8);
    const post = await submissionFor(job);
    expect(post.entrypoint_num_gpus).toBe(0);
    expect(post.submission_id).toBe('pairwise-run-41-0');
    expect(post.runtime_env.env_vars).toEqual({ HF_HUB_OFFLINE: '1', GREETING: "it's me", PAIRWISE_NODE_RANK: 'not-ours' });
    const driver = shellQuote(['python3', '-c', rayMultiNodeDriver()]);
    expect(post.entrypoint).toBe(
      `export HF_TOKEN="\${PAIRWISE_TEST_NODE_TOKEN:?is not set on the Ray node (secretEnv.HF_TOKEN)}" && ${driver} --nodes 4 --gpus-per-node 8 --env HF_TOKEN --env HF_HUB_OFFLINE --env GREETING --env PAIRWISE_NODE_RANK -- ${shellQuote(job.command)}`,
    );
    // One node: the command itself, its GPUs reserved for the entrypoint, as before.
    const one = await submissionFor({ ...job, nodes: 1 });
    expect(one).toMatchObject({ entrypoint: rayEntrypoint(job.command, { HF_TOKEN: 'PAIRWISE_TEST_NODE_TOKEN' }), entrypoint_num_gpus: 8 });
  });

  it('embeds workers/host/ray_multinode.py without its comments, and what it embeds is valid Python', () => {
    const source = rayMultiNodeDriver();
    const file = fs.readFileSync(rayMultiNodeDriverPath, 'utf8');
    expect(source.length).toBeLessThan(file.length * 0.8);
    expect(source.split('\n').every((line) => line.trim() !== '' && !line.trim().startsWith('#'))).toBe(true);
    const parsed = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: source, encoding: 'utf8' });
    expect(parsed.stderr).toBe('');
    expect(parsed.status).toBe(0);
  });

  it('a round over several nodes is no longer refused for a Ray executor', () => {
    const plan = ZRoundPlan.parse({ baseModel: 'meta-llama/Llama-3.1-70B-Instruct', distributed: { strategy: 'zero3', nodes: 4 }, register: { name: 'llama-70b-r1' } });
    const policy = { name: 'llama', serving: 'none' } as Parameters<typeof checkPlanAgainst>[1];
    const executor = { kind: 'ray', name: 'ray-prod', config: {} } as Parameters<typeof checkPlanAgainst>[2];
    expect(() => checkPlanAgainst(plan, policy, executor)).not.toThrow();
    // A local executor is still one host.
    const gpus = Array.from({ length: 32 }, (_, i) => String(i));
    expect(() => checkPlanAgainst(plan, policy, { ...executor, kind: 'local', config: { gpus } })).toThrow(/a local executor runs on one node; 4 were asked for/);
  });
});

interface TDriverRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Process ids whose environment holds this marker: the ranks (and the driver while it runs). */
function processesWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`PAIRWISE_TEST_MARKER=${marker}`)) found.push(Number(entry));
    } catch {
      // Gone, or not ours.
    }
  }
  return found;
}

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs: number, log: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${log().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe.skipIf(Boolean(skipWhy))(skipWhy ? `Ray over several nodes (skipped: ${skipWhy})` : 'Ray over several nodes, on a real two-node Ray cluster', () => {
  let tempDir = '';
  let gcsAddress = '';
  const nodes: { child: ChildProcess; log: string }[] = [];
  const drivers: TDriverRun[] = [];
  const headIp = '127.0.0.3';
  const workerIp = '127.0.0.2';
  const nodeToken = 'node-secret-value';
  const clusterLog = () => nodes.map((n) => fs.existsSync(n.log) ? fs.readFileSync(n.log, 'utf8').slice(-2000) : '').join('\n');

  // What the raylets (and so the Ray workers) see: not the node's secret, nor HF_TOKEN.
  const rayEnv = (): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${rayBin}:${process.env.PATH ?? '/usr/bin:/bin'}`, RAY_USAGE_STATS_ENABLED: '0', RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S: '0' };
    delete env.HF_TOKEN;
    delete env.RAY_ADDRESS;
    return env;
  };

  function startNode(args: string[], name: string) {
    const log = path.join(tempDir, `${name}.log`);
    const fd = fs.openSync(log, 'a');
    // `ray start --block` stays in the foreground and makes itself a process group leader; SIGTERM
    // to that group stops this node's processes (and nothing else on the machine).
    const child = spawn(path.join(rayBin, 'ray'), ['start', '--block', '--num-cpus=1', '--num-gpus=1', '--object-store-memory=100000000', '--disable-usage-stats', ...args], { env: rayEnv(), detached: true, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    nodes.push({ child, log });
  }

  beforeAll(async () => {
    // Short: Ray's socket paths under it must fit in 107 bytes.
    tempDir = fs.mkdtempSync('/tmp/pwray-');
    // An ephemeral port: outside Ray's default worker ports (10002-19999).
    const port = await findFreePort();
    gcsAddress = `${headIp}:${port}`;
    startNode(['--head', `--node-ip-address=${headIp}`, `--port=${port}`, '--include-dashboard=false', `--temp-dir=${tempDir}`], 'head');
    await until('the head node starts', () => fs.readFileSync(nodes[0]!.log, 'utf8').includes('Ray runtime started'), 90_000, clusterLog);
    startNode([`--address=${gcsAddress}`, `--node-ip-address=${workerIp}`], 'worker');
    const waited = spawnSync(
      path.join(rayBin, 'python'),
      ['-c', 'import ray, time\nray.init(log_to_driver=False)\nfor _ in range(300):\n    alive = [n for n in ray.nodes() if n["Alive"]]\n    if len(alive) >= 2:\n        print("nodes", len(alive))\n        break\n    time.sleep(0.2)\n'],
      { env: { ...rayEnv(), RAY_ADDRESS: gcsAddress }, encoding: 'utf8', timeout: 90_000 },
    );
    expect(waited.stdout, `${waited.stderr}\n${clusterLog()}`).toContain('nodes 2');
  }, 180_000);

  afterAll(async () => {
    for (const run of drivers) if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    // The worker node first, then the head; SIGKILL whatever is left of either group.
    for (const node of [...nodes].reverse()) {
      try {
        process.kill(-node.child.pid!, 'SIGTERM');
      } catch {
        // Already gone.
      }
      await until('a Ray node stops', () => node.child.exitCode !== null || node.child.signalCode !== null, 30_000).catch(() => undefined);
      try {
        process.kill(-node.child.pid!, 'SIGKILL');
      } catch {
        // Nothing left.
      }
    }
    // Anything still running from this cluster's folder is ours.
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (tempDir && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(tempDir)) process.kill(Number(entry), 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  }, 90_000);

  /** Runs a submission's entrypoint as Ray's job supervisor does: `/bin/sh -c`, node environment plus runtime_env.env_vars and RAY_ADDRESS, in a session of its own. */
  function runAsRayJob(post: Awaited<ReturnType<typeof submissionFor>>): TDriverRun {
    const env: Record<string, string> = {
      PATH: `${rayBin}:/usr/bin:/bin`,
      HOME: process.env.HOME ?? '/tmp',
      // The Ray node's own variable, which secretEnv names.
      PAIRWISE_TEST_NODE_TOKEN: nodeToken,
      ...post.runtime_env.env_vars,
      RAY_ADDRESS: gcsAddress,
      PYTHONUNBUFFERED: '1',
    };
    const child = spawn('/bin/sh', ['-c', post.entrypoint], { env: env as NodeJS.ProcessEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() })));
    const run = { child, output: () => output, exited };
    drivers.push(run);
    return run;
  }

  /** "rank 0 on node <id> (<ip>)" lines the driver prints. */
  const placements = (output: string) => [...output.matchAll(/^ray_multinode: rank (\d+) on node ([0-9a-f]+) \(([\d.]+)\)$/gm)].map((m) => ({ rank: Number(m[1]), node: m[2]!, ip: m[3]! }));

  it('runs the command once on each node with its rank, rank 0’s address, the job’s variables and the node’s secret', async () => {
    const marker = randomUUID();
    const job = multiNodeJob('echo "rank=$PAIRWISE_NODE_RANK master=$PAIRWISE_MASTER_ADDR token=$HF_TOKEN greeting=$GREETING gpus=$CUDA_VISIBLE_DEVICES"', { PAIRWISE_TEST_MARKER: marker });
    const post = await submissionFor(job);
    expect(JSON.stringify(post)).not.toContain(nodeToken);
    const run = runAsRayJob(post);
    const { code } = await run.exited;
    const output = run.output();
    expect(code, output).toBe(0);
    const placed = placements(output);
    expect(placed.map((p) => p.rank)).toEqual([0, 1]);
    // Two Ray nodes, one rank each (STRICT_SPREAD).
    expect(placed[0]!.node).not.toBe(placed[1]!.node);
    expect(placed.map((p) => p.ip).sort()).toEqual([workerIp, headIp].sort());
    const master = placed[0]!.ip;
    // Each rank's output, labelled like `srun --label`; every rank dials rank 0's node.
    expect(output).toContain(`\n0: rank=0 master=${master} token=${nodeToken} greeting=it's me gpus=0\n`);
    expect(output).toContain(`\n1: rank=1 master=${master} token=${nodeToken} greeting=it's me gpus=0\n`);
    expect(output).toContain('ray_multinode: all 2 ranks succeeded');
    expect(processesWithMarker(marker)).toEqual([]);
  }, 90_000);

  it('a failing rank fails the job at once with its exit code, and the other rank is ended', async () => {
    const marker = randomUUID();
    const script = 'if [ "$PAIRWISE_NODE_RANK" = 1 ]; then sleep 2; echo "rank 1 fails"; exit 3; fi; echo "rank 0 sleeps"; sleep 60; echo "rank 0 was not stopped"';
    const run = runAsRayJob(await submissionFor(multiNodeJob(script, { PAIRWISE_TEST_MARKER: marker })));
    const started = Date.now();
    const { code, at } = await run.exited;
    const output = run.output();
    expect(code, output).toBe(3);
    expect(output).toContain('\n1: rank 1 fails\n');
    expect(output).toContain('ray_multinode: rank 1 exited with code 3; stopping the other ranks');
    expect(output).not.toContain('rank 0 was not stopped');
    // Well before rank 0's 60 s sleep would end (the cluster start of each job takes a few seconds here).
    expect(at - started).toBeLessThan(30_000);
    await until('no rank process is left', () => processesWithMarker(marker).length === 0, 15_000, () => `${output}\nleft: ${processesWithMarker(marker).join(' ')}`);
  }, 90_000);

  it('stopping the job (SIGTERM to the driver, SIGKILL 3 s later, as Ray’s job stop) leaves no rank process', async () => {
    const marker = randomUUID();
    const run = runAsRayJob(await submissionFor(multiNodeJob('echo started; sleep 60; echo "not stopped"', { PAIRWISE_TEST_MARKER: marker })));
    await until('both ranks start', () => run.output().includes('\n0: started') && run.output().includes('\n1: started'), 60_000, run.output);
    const ranks = processesWithMarker(marker).filter((pid) => !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ray_multinode'));
    expect(ranks.length).toBeGreaterThanOrEqual(2);
    process.kill(-run.child.pid!, 'SIGTERM');
    const killer = setTimeout(() => {
      try {
        process.kill(-run.child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, 3000);
    const { code, signal } = await run.exited;
    clearTimeout(killer);
    // The driver exits 143; the `sh -c` around it may die of the SIGTERM itself (Ray reports STOPPED either way).
    expect(code === 143 || signal === 'SIGTERM', `${code} ${signal}\n${run.output()}`).toBe(true);
    expect(run.output()).toContain('ray_multinode: stopped by signal 15; stopping the ranks');
    await until('no rank process is left', () => processesWithMarker(marker).length === 0, 20_000, () => `${run.output()}\nleft: ${processesWithMarker(marker).join(' ')}`);
    expect(run.output()).not.toContain('not stopped');
  }, 90_000);

  it('a driver killed outright (SIGKILL) leaves no rank process either: Ray ends its actors, and each rank’s watcher its process group', async () => {
    const marker = randomUUID();
    // A rank that ignores SIGTERM and has a child of its own: the watcher's SIGKILL after the grace period ends both.
    const script = 'trap "" TERM; echo started; sleep 60 & wait; echo "not stopped"';
    const run = runAsRayJob(await submissionFor(multiNodeJob(script, { PAIRWISE_TEST_MARKER: marker })));
    await until('both ranks start', () => run.output().includes('\n0: started') && run.output().includes('\n1: started'), 60_000, run.output);
    process.kill(-run.child.pid!, 'SIGKILL');
    await run.exited;
    // Ray notices the driver's death, kills its actors; the watcher waits 10 s (--grace-seconds) for SIGTERM, then SIGKILLs.
    await until('no rank process is left', () => processesWithMarker(marker).length === 0, 45_000, () => `${run.output()}\nleft: ${processesWithMarker(marker).join(' ')}`);
  }, 90_000);

  it('nodes the cluster cannot give fail the job after the wait, saying what is missing', async () => {
    // The executor's driver waits 15 minutes for nodes (an autoscaler may be adding them); 3 s here.
    const driver = spawnSync(path.join(rayBin, 'python3'), ['-c', rayMultiNodeDriver(), '--nodes', '3', '--gpus-per-node', '1', '--wait-seconds', '3', '--', 'true'], {
      env: { PATH: `${rayBin}:/usr/bin:/bin`, HOME: process.env.HOME ?? '/tmp', RAY_ADDRESS: gcsAddress } as Record<string, string> as NodeJS.ProcessEnv,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(driver.status, driver.stdout + driver.stderr).toBe(1);
    expect(driver.stdout).toContain('ray_multinode: the placement group was not placed in 3s: it needs 3 nodes with CPU 1, GPU 1 free on each (STRICT_SPREAD: one bundle per node); 2 of the 2 alive node(s) have that much in total');
    expect(driver.stdout).toContain(`(${headIp}): CPU 1, GPU 1 in total`);
  }, 90_000);
});
