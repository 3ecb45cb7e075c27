import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { artifactStoreJobEnv } from '@/server/artifacts/job-env';
import { dataDir } from '@/server/env';
import { AppError } from '@/server/errors';
import type { TLocalExecutorConfig } from '@/server/executors/schemas';
import { assertValidJob, errorMessage, jobName, jobNodes, resolveSecretEnv, shellQuote, tailBuffer } from './common';
import type { TArtifactStore, TExecutor, TExecutorJob, TExecutorState, TExecutorStatus } from './types';

/**
 * A child process on the worker host. Everything needed to follow a job lives in a host folder
 * (`stateDir/<externalId>/state.json` plus the exit code written by a shell wrapper), so that a
 * restarted worker, or another worker on the same host, picks the job up where it is: the process
 * runs in its own process group and session and outlives the worker. GPUs are allocated from that
 * same folder: a device belongs to a job from its start until its process group is gone.
 */

type TFinalState = Extract<TExecutorState, 'succeeded' | 'failed' | 'cancelled'>;

interface TLocalJobState {
  version: 1;
  externalId: string;
  runId: number;
  attempt: number;
  artifactPrefix: string;
  command: string[];
  /** The job's own variables; secrets are read from the worker's environment at start, never written here. */
  env: Record<string, string>;
  gpus: number;
  submittedAt: string;
  /** Where stdout and stderr go, and where this attempt's part of that file begins. */
  logFile: string;
  logOffset?: number;
  /** The artifact-store file is the log file itself (local store); otherwise it is uploaded while polled. */
  logInStore: boolean;
  devices?: string[];
  pid?: number;
  bootId?: string;
  startedAt?: string;
  cancelRequestedAt?: string;
  result?: { state: TFinalState; exitCode: number | null; finishedAt: string; message?: string };
}

/** Names of the worker's variables every job gets; nothing else of the worker's environment (DATABASE_URL, keys) leaks into jobs. */
const inheritedEnv = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR'];

/**
 * Runs the command, then records its exit status atomically. The TERM/INT/HUP trap keeps the
 * shell alive while a cancelled command exits, so the exit status of the command is recorded;
 * traps with a handler are reset for the command itself, which gets the default behaviour.
 */
const wrapperScript = [
  'exit_file=$1',
  'shift',
  "trap 'true' TERM INT HUP",
  '"$@"',
  'code=$?',
  'printf "%s\\n" "$code" > "$exit_file.tmp" && mv "$exit_file.tmp" "$exit_file"',
  'exit "$code"',
].join('\n');

const defaultKillGraceSeconds = 10;
const logUploadIntervalMs = 10_000;

let cachedBootId: string | undefined | null = null;
function bootId(): string | undefined {
  if (cachedBootId === null) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
    } catch {
      cachedBootId = undefined;
    }
  }
  return cachedBootId;
}

function processGroupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function writeFileAtomic(file: string, text: string): Promise<void> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  await fs.writeFile(temporary, text);
  await fs.rename(temporary, file);
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}

/** One lock per state folder, across the worker processes of a host (a folder created exclusively). */
const inProcessLocks = new Map<string, Promise<unknown>>();
async function withHostLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const previous = inProcessLocks.get(root) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(async () => {
    await fs.mkdir(root, { recursive: true });
    const lock = path.join(root, '.lock');
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await fs.mkdir(lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const stat = await fs.stat(lock).catch(() => null);
        // A holder that died mid-way leaves the lock behind; nothing holds it this long.
        if (stat && Date.now() - stat.mtimeMs > 60_000) await fs.rm(lock, { recursive: true, force: true });
        if (Date.now() > deadline) throw new Error(`local executor: ${lock} stays locked`);
        await sleep(20);
      }
    }
    try {
      return await fn();
    } finally {
      await fs.rm(lock, { recursive: true, force: true });
    }
  });
  inProcessLocks.set(root, run);
  try {
    return await run;
  } finally {
    if (inProcessLocks.get(root) === run) inProcessLocks.delete(root);
  }
}

function signalName(code: number): string | undefined {
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };
  return code > 128 ? (names[code - 128] ?? `signal ${code - 128}`) : undefined;
}

export interface TLocalExecutorDeps {
  store: TArtifactStore;
  /** Where secret references are read (default: the worker's environment). */
  env?: Record<string, string | undefined>;
}

export function localExecutor(config: TLocalExecutorConfig, deps: TLocalExecutorDeps): TExecutor {
  const root = config.stateDir ?? path.join(dataDir(), 'local-executor');
  const secretSource = deps.env ?? process.env;
  // The artifact store's S3 endpoint and region (never credentials): first, so the config's and the job's variables win.
  const storeEnv = artifactStoreJobEnv(deps.store);
  const graceMs = (config.killGraceSeconds ?? defaultKillGraceSeconds) * 1000;
  const uploaded = new Map<string, { bytes: number; at: number }>();

  const jobDir = (externalId: string) => {
    if (!/^pairwise-run-\d+-\d+$/.test(externalId)) throw new AppError('BAD_REQUEST', `not a local executor job id: ${externalId}`);
    return path.join(root, externalId);
  };
  const stateFile = (externalId: string) => path.join(jobDir(externalId), 'state.json');
  const exitFile = (externalId: string) => path.join(jobDir(externalId), 'exitcode');

  async function readState(externalId: string): Promise<TLocalJobState | null> {
    try {
      return JSON.parse(await fs.readFile(stateFile(externalId), 'utf8')) as TLocalJobState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async function saveState(state: TLocalJobState): Promise<void> {
    await fs.mkdir(jobDir(state.externalId), { recursive: true });
    await writeFileAtomic(stateFile(state.externalId), JSON.stringify(state, null, 2));
  }

  /** A copy of the state beside the run's other artifacts, for people and tools that look there. */
  async function mirrorState(state: TLocalJobState): Promise<void> {
    const summary = {
      executor: 'local',
      externalId: state.externalId,
      attempt: state.attempt,
      pid: state.pid ?? null,
      devices: state.devices ?? null,
      submittedAt: state.submittedAt,
      startedAt: state.startedAt ?? null,
      state: state.result?.state ?? (state.pid ? 'running' : 'pending'),
      exitCode: state.result?.exitCode ?? null,
      finishedAt: state.result?.finishedAt ?? null,
    };
    await deps.store.write(`${state.artifactPrefix}local-state.json`, once(JSON.stringify(summary, null, 2) + '\n'));
  }

  async function readExitCode(externalId: string): Promise<{ code: number; at: Date } | null> {
    try {
      const file = exitFile(externalId);
      const [text, stat] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
      const code = Number.parseInt(text.trim(), 10);
      return Number.isFinite(code) ? { code, at: stat.mtime } : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  function sameBoot(state: TLocalJobState): boolean {
    return !state.bootId || !bootId() || state.bootId === bootId();
  }

  /** Whether the job's process group still runs (a reboot ends it, whatever reuses the pid). */
  async function running(state: TLocalJobState): Promise<boolean> {
    if (!state.pid || state.result) return false;
    if (await readExitCode(state.externalId)) return false;
    return sameBoot(state) && processGroupAlive(state.pid);
  }

  /** Devices held by started jobs whose processes still run, across every executor sharing the folder. */
  async function devicesInUse(): Promise<Set<string>> {
    const inUse = new Set<string>();
    const entries = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory() || !entry.name.startsWith('pairwise-run-')) continue;
      const state = await readState(entry.name).catch(() => null);
      if (state?.devices?.length && (await running(state))) for (const d of state.devices) inUse.add(d);
    }
    return inUse;
  }

  function logFileFor(job: TExecutorJob): { logFile: string; logInStore: boolean } {
    const uri = deps.store.uri(`${job.artifactPrefix}logs.txt`);
    if (uri.startsWith('file:')) return { logFile: fileURLToPath(uri), logInStore: true };
    return { logFile: path.join(jobDir(jobName(job)), 'logs.txt'), logInStore: false };
  }

  function childEnv(state: TLocalJobState, devices: string[]): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && (inheritedEnv.includes(name) || name.startsWith('LC_'))) env[name] = value;
    }
    Object.assign(env, storeEnv, config.env ?? {}, state.env, resolveSecretEnv(config.secretEnv, secretSource));
    // Devices are ours to hand out: a job never sees one it was not given.
    env.CUDA_VISIBLE_DEVICES = devices.join(',');
    return env;
  }

  /** Starts a submitted job when its GPUs are free; call with the host lock held. */
  async function tryStart(state: TLocalJobState): Promise<TLocalJobState> {
    if (state.pid || state.result || state.cancelRequestedAt) return state;
    let devices: string[] = [];
    if (state.gpus > 0) {
      const inUse = await devicesInUse();
      const free = (config.gpus ?? []).filter((d) => !inUse.has(d));
      if (free.length < state.gpus) return state;
      devices = free.slice(0, state.gpus);
    }
    const env = childEnv(state, devices);
    await fs.mkdir(path.dirname(state.logFile), { recursive: true });
    await fs.rm(exitFile(state.externalId), { force: true });
    const log = await fs.open(state.logFile, 'a');
    let started: TLocalJobState;
    try {
      const logOffset = (await log.stat()).size;
      const startedAt = new Date();
      const where = devices.length ? `on GPU(s) ${devices.join(',')}` : 'without GPUs';
      await log.write(`[pairwise] ${state.externalId} started ${startedAt.toISOString()} ${where}: ${shellQuote(state.command)}\n`);
      const child = spawn('/bin/sh', ['-c', wrapperScript, 'pairwise-run', exitFile(state.externalId), ...state.command], {
        cwd: config.workdir,
        env: env as unknown as NodeJS.ProcessEnv,
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      });
      const spawnError = await new Promise<Error | null>((resolve) => {
        child.once('spawn', () => resolve(null));
        child.once('error', (error: Error) => resolve(error));
      });
      child.unref();
      if (spawnError || !child.pid) {
        const message = `could not start: ${errorMessage(spawnError)}`;
        await log.write(`[pairwise] ${message}\n`);
        started = { ...state, logOffset, result: { state: 'failed', exitCode: null, finishedAt: new Date().toISOString(), message } };
      } else {
        started = { ...state, logOffset, devices, pid: child.pid, bootId: bootId(), startedAt: startedAt.toISOString() };
      }
    } finally {
      await log.close();
    }
    await saveState(started);
    await mirrorState(started);
    return started;
  }

  async function lastLogLine(state: TLocalJobState): Promise<string | undefined> {
    const text = await readLog(state, 2048);
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('[pairwise]'))
      .pop();
  }

  /** Records the end of a job whose process is gone. */
  async function finish(state: TLocalJobState): Promise<TLocalJobState> {
    const exit = await readExitCode(state.externalId);
    let final: TFinalState;
    let message: string | undefined;
    if (exit?.code === 0) final = 'succeeded';
    else if (state.cancelRequestedAt) {
      final = 'cancelled';
      message = 'cancelled';
    } else {
      final = 'failed';
      if (!exit) message = sameBoot(state) ? 'the process ended without recording an exit code (killed?)' : 'the host restarted while the job ran';
      else {
        const signal = signalName(exit.code);
        message = `exit code ${exit.code}${signal ? ` (${signal})` : ''}`;
        const last = await lastLogLine(state);
        if (last) message += `: ${last.slice(0, 500)}`;
      }
    }
    const finished: TLocalJobState = {
      ...state,
      result: { state: final, exitCode: exit?.code ?? null, finishedAt: (exit?.at ?? new Date()).toISOString(), message },
    };
    await saveState(finished);
    await syncLog(finished, true);
    await mirrorState(finished);
    return finished;
  }

  /** Uploads the log file to the store when it lives elsewhere (an S3 store): while polled, and once at the end. */
  async function syncLog(state: TLocalJobState, force = false): Promise<void> {
    if (state.logInStore) return;
    const stat = await fs.stat(state.logFile).catch(() => null);
    if (!stat) return;
    const last = uploaded.get(state.externalId);
    if (last && last.bytes === stat.size) return;
    if (!force && last && Date.now() - last.at < logUploadIntervalMs) return;
    await deps.store.write(`${state.artifactPrefix}logs.txt`, createReadStream(state.logFile, { start: state.logOffset ?? 0, end: stat.size - 1 }));
    uploaded.set(state.externalId, { bytes: stat.size, at: Date.now() });
  }

  async function readLog(state: TLocalJobState, tailBytes?: number): Promise<string> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(state.logFile, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw error;
    }
    try {
      const size = (await handle.stat()).size;
      const from = state.logOffset ?? size;
      let start = from;
      if (tailBytes !== undefined) start = Math.max(from, size - tailBytes - 3);
      const buffer = Buffer.alloc(Math.max(0, size - start));
      if (buffer.length) await handle.read(buffer, 0, buffer.length, start);
      return tailBytes === undefined ? buffer.toString('utf8') : tailBuffer(buffer, tailBytes);
    } finally {
      await handle.close();
    }
  }

  function statusOf(state: TLocalJobState, message?: string): TExecutorStatus {
    if (state.result) {
      return {
        state: state.result.state,
        message: state.result.message,
        startedAt: state.startedAt ? new Date(state.startedAt) : undefined,
        finishedAt: new Date(state.result.finishedAt),
      };
    }
    if (!state.pid) return { state: 'pending', message };
    return { state: 'running', startedAt: new Date(state.startedAt!), message };
  }

  async function requireState(externalId: string): Promise<TLocalJobState | null> {
    jobDir(externalId);
    return readState(externalId);
  }

  const missing = (externalId: string): TExecutorStatus => ({ state: 'failed', message: `no record of ${externalId} in ${root} on this host` });

  return {
    async submit(job) {
      assertValidJob(job);
      const externalId = jobName(job);
      // One host: there is no second node to start the other ranks on (docs/executors.md, Jobs over several nodes).
      if (jobNodes(job) > 1) throw new AppError('BAD_REQUEST', `nodes: the local executor runs jobs on this one host; the job spans ${jobNodes(job)} nodes. Run it on a Kubernetes executor, or on one node`, { field: 'nodes' });
      if (job.gpus > 0 && !config.gpus?.length) throw new AppError('BAD_REQUEST', `gpus: the job needs ${job.gpus} GPU(s) and this local executor lists no devices (config.gpus)`, { field: 'gpus' });
      if (job.gpus > (config.gpus?.length ?? 0)) throw new AppError('BAD_REQUEST', `gpus: the job needs ${job.gpus} GPU(s) and this local executor has ${config.gpus?.length ?? 0}`, { field: 'gpus' });
      // Fail before recording anything when a secret is missing.
      resolveSecretEnv(config.secretEnv, secretSource);
      await withHostLock(root, async () => {
        const existing = await readState(externalId);
        if (existing) return;
        const state: TLocalJobState = {
          version: 1,
          externalId,
          runId: job.runId,
          attempt: job.attempt,
          artifactPrefix: job.artifactPrefix,
          command: job.command,
          env: job.env,
          gpus: job.gpus,
          submittedAt: new Date().toISOString(),
          ...logFileFor(job),
        };
        await saveState(state);
        await tryStart(state);
      });
      return { externalId };
    },

    async status(externalId) {
      let state = await requireState(externalId);
      if (!state) return missing(externalId);
      if (state.result) return statusOf(state);
      if (!state.pid) {
        state = await withHostLock(root, async () => {
          const current = (await readState(externalId))!;
          if (current.result || current.pid) return current;
          if (current.cancelRequestedAt) return finish(current);
          return tryStart(current);
        });
        if (!state.pid || state.result) {
          const inUse = state.result ? undefined : await devicesInUse();
          return statusOf(state, inUse ? `waiting for ${state.gpus} free GPU(s); in use: ${[...inUse].join(',') || 'none'}` : undefined);
        }
      }
      if (await running(state)) {
        if (state.cancelRequestedAt && Date.now() - Date.parse(state.cancelRequestedAt) > graceMs) signalGroup(state.pid!, 'SIGKILL');
        await syncLog(state);
        return statusOf(state);
      }
      return statusOf(await finish(state));
    },

    async logs(externalId, options) {
      const state = await requireState(externalId);
      if (!state) return '';
      return readLog(state, options?.tailBytes);
    },

    async cancel(externalId) {
      const state = await withHostLock(root, async () => {
        const current = await requireState(externalId);
        if (!current || current.result) return null;
        const requested = { ...current, cancelRequestedAt: current.cancelRequestedAt ?? new Date().toISOString() };
        await saveState(requested);
        if (!requested.pid) {
          await finish(requested);
          return null;
        }
        return requested;
      });
      if (!state?.pid) return;
      if (await running(state)) {
        signalGroup(state.pid, 'SIGTERM');
        const deadline = Date.now() + graceMs;
        while (Date.now() < deadline && (await running(state))) await sleep(100);
        if (await running(state)) signalGroup(state.pid, 'SIGKILL');
        const killedBy = Date.now() + 5_000;
        while (Date.now() < killedBy && (await running(state))) await sleep(50);
      }
      const latest = await readState(externalId);
      if (latest && !latest.result && !(await running(latest))) await finish(latest);
    },
  };
}
