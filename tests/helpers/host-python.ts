import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { findFreePort } from '@/db/embedded';

const run = promisify(execFile);

/**
 * The Python environment with the real trainer stack (workers/host/requirements.txt), made by
 * `bash workers/host/setup-venv.sh`: PAIRWISE_HOST_VENV, else `.venv` at the repository root.
 * Null where it is missing; CI always makes it (`npm run test:round` does), so there a missing
 * venv is a failure, not a skip.
 */
export function hostVenv(): { bin: string; python: string } | null {
  const venv = path.resolve(process.env.PAIRWISE_HOST_VENV ?? '.venv');
  const python = path.join(venv, 'bin', 'python');
  return fs.existsSync(python) ? { bin: path.join(venv, 'bin'), python } : null;
}

/** The environment a host job gets on this machine: offline, unbuffered, caches in a scratch folder. */
export function hostEnv(bin: string, scratch: string): Record<string, string> {
  return {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HF_HOME: path.join(scratch, 'hf-home'),
    HF_HUB_OFFLINE: '1',
    HF_DATASETS_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    PYTHONUNBUFFERED: '1',
    TOKENIZERS_PARALLELISM: 'false',
    OMP_NUM_THREADS: '2',
    // Progress bars of datasets and the trainer would fill the logs with carriage returns.
    HF_DATASETS_DISABLE_PROGRESS_BARS: '1',
    TQDM_DISABLE: '1',
  };
}

export async function runPython(python: string, args: string[], env: Record<string, string>, timeoutMs = 300_000): Promise<string> {
  try {
    const { stdout } = await run(python, args, { env: env as NodeJS.ProcessEnv, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${path.basename(args[0] ?? python)} failed: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`);
  }
}

export interface TServedModels {
  baseUrl: string;
  log: () => string;
  close(): Promise<void>;
}

/**
 * `transformers serve`: the real OpenAI-compatible server (/v1/chat/completions), on CPU. It loads
 * whichever model folder a request names, so one server answers for every tiny policy.
 */
export async function startTransformersServe(bin: string, env: Record<string, string>): Promise<TServedModels> {
  const port = await findFreePort();
  let output = '';
  // A fixed seed: the same prompts get the same answers, so a test's data does not change from run to run.
  const child: ChildProcess = spawn(path.join(bin, 'transformers'), ['serve', '--host', '127.0.0.1', '--port', String(port), '--device', 'cpu', '--log-level', 'warning', '--default-seed', '0'], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`transformers serve exited ${child.exitCode}:\n${output.slice(-4000)}`);
    const ok = await fetch(`${baseUrl}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`transformers serve did not answer /health in 90 s:\n${output.slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return {
    baseUrl: `${baseUrl}/v1`,
    log: () => output,
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(undefined);
        }, 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    },
  };
}
