import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './app-process';

export interface TCliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run cli -- ...args` (without npm's own start-up cost) and collects its output. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<TCliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...(options.nodeArgs ?? []), path.join(repoRoot, 'server/cli.ts'), ...args], {
      cwd: repoRoot,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    // 'close', not 'exit': the output may still be in the pipes when the process exits.
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}
