import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { findFreePort } from '@/db/embedded';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

export interface TRunningApp {
  baseUrl: string;
  port: number;
  child: ChildProcess;
  output(): string;
  /** Sends SIGINT (as Ctrl-C would) and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `npm start` (the real launcher) and resolves once it prints that it is ready. */
export async function startApp(options: { env: NodeJS.ProcessEnv; args?: string[]; timeoutMs?: number }): Promise<TRunningApp> {
  const port = await findFreePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'server/launcher/start.ts'), ...(options.args ?? [])], {
    cwd: repoRoot,
    env: { ...options.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start in time:\n${output.slice(-3000)}`)), options.timeoutMs ?? 300_000);
    const check = setInterval(() => {
      if (/\[pairwise\] ready in/.test(output)) {
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }
    }, 100);
    void exit.then((code) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`the app exited with code ${code} during start-up:\n${output.slice(-3000)}`));
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      return exit;
    },
  };
}
