import { spawn } from 'node:child_process';
import os from 'node:os';
import { AppError } from '../errors';
import type { TSlurmExecutorConfig } from './schemas';

/**
 * How Pairwise reaches a Slurm cluster: a POSIX shell script run on a submit host, either the
 * worker's own host (sbatch on its PATH) or a login node through OpenSSH's client. Every Slurm
 * operation (sbatch, scontrol, sacct, scancel, sinfo, reading an output file) is one such script,
 * so each costs one process, or one SSH connection, whatever it does.
 */

export interface TShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TSlurmShell {
  /** `user@host:port` or "this host": said in errors and connection tests. */
  where: string;
  run(script: string, options?: { stdin?: string; timeoutMs?: number }): Promise<TShellResult>;
}

/** The worker's variables a direct submit keeps; nothing else (DATABASE_URL, keys) reaches sbatch, which passes its environment to the job. */
const inheritedEnv = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'SLURM_CONF'];

const safeWord = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** POSIX quoting of one word. */
export function quoteWord(word: string): string {
  return word !== '' && safeWord.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A cluster path as a shell word: `~/x` (and a relative path) become "$HOME/x", expanded on the
 * submit host, so one config serves a login node whose home differs from the worker's.
 */
export function clusterPath(path: string): string {
  const relative = path === '~' ? '' : path.startsWith('~/') ? path.slice(2) : path.startsWith('/') ? null : path;
  if (relative === null) return quoteWord(path);
  return relative === '' ? '"$HOME"' : `"$HOME"/${quoteWord(relative)}`;
}

/**
 * The lines every script starts with: the config's slurm.conf, and times as seconds since the
 * epoch (SLURM_TIME_FORMAT), which squeue, scontrol and sacct then print without a time zone to guess.
 */
export function preamble(config: Pick<TSlurmExecutorConfig, 'slurmConf'>): string {
  return [config.slurmConf ? `export SLURM_CONF=${clusterPath(config.slurmConf)}` : '', 'export SLURM_TIME_FORMAT=%s'].filter(Boolean).join('\n');
}

/** Runs a process to its end (or until the time is up), collecting its output. */
function collect(program: string, args: string[], env: Record<string, string>, cwd: string | undefined, stdin: string | undefined, timeoutMs: number, what: string): Promise<TShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: env as NodeJS.ProcessEnv, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: no answer within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${what}: cannot start ${program}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    // A script that does not read its input closes the pipe early: that is not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}

export interface TSlurmShellDeps {
  /** Where variables are read (the key file's path, secrets for a direct submit); default the worker's environment. */
  env?: Record<string, string | undefined>;
}

/** The transport for a config: SSH to its login node, or this host. */
export function slurmShell(config: TSlurmExecutorConfig, deps: TSlurmShellDeps = {}): TSlurmShell {
  const source = deps.env ?? process.env;
  const defaultTimeoutMs = (config.commandTimeoutSeconds ?? 60) * 1000;
  const ssh = config.ssh;
  if (!ssh) {
    return {
      where: `this host (${os.hostname()})`,
      run(script, options = {}) {
        const env: Record<string, string> = {};
        for (const name of inheritedEnv) if (source[name]) env[name] = source[name]!;
        // The values secretEnv names travel in sbatch's environment (it passes them to the job), never in the script.
        for (const from of Object.values(config.secretEnv ?? {})) if (source[from] !== undefined) env[from] = source[from]!;
        return collect('/bin/sh', ['-c', script], env, env.HOME && process.platform !== 'win32' ? env.HOME : undefined, options.stdin, options.timeoutMs ?? defaultTimeoutMs, 'the Slurm commands on this host');
      },
    };
  }
  const port = ssh.port ?? 22;
  const where = `${ssh.user}@${ssh.host}:${port}`;
  return {
    where,
    async run(script, options = {}) {
      const args = [
        '-T',
        '-o', 'BatchMode=yes',
        '-o', `ConnectTimeout=${ssh.connectTimeoutSeconds ?? 15}`,
        '-o', `StrictHostKeyChecking=${ssh.hostKeyChecking === 'accept-new' ? 'accept-new' : 'yes'}`,
        '-o', 'ServerAliveInterval=15',
        '-o', 'LogLevel=ERROR',
        '-p', String(port),
        '-l', ssh.user,
      ];
      if (ssh.knownHostsFile) args.push('-o', `UserKnownHostsFile=${ssh.knownHostsFile}`);
      if (ssh.identityFileEnv) {
        const key = source[ssh.identityFileEnv];
        if (!key) throw new AppError('BAD_REQUEST', `config.ssh.identityFileEnv: $${ssh.identityFileEnv} is not set on the worker (it holds the path of the SSH key for ${where})`, { field: 'config.ssh.identityFileEnv' });
        args.push('-i', key, '-o', 'IdentitiesOnly=yes');
      }
      // The login shell of the remote user may be anything (bash, zsh, tcsh): run the script in sh.
      args.push(ssh.host, '--', `sh -c ${quoteWord(script)}`);
      const env: Record<string, string> = {};
      for (const name of ['PATH', 'HOME', 'USER', 'LOGNAME', 'SSH_AUTH_SOCK', 'LANG']) if (process.env[name]) env[name] = process.env[name]!;
      const result = await collect('ssh', args, env, undefined, options.stdin, options.timeoutMs ?? defaultTimeoutMs, `ssh ${where}`);
      // 255 is ssh's own failure (refused, unknown host key, authentication), not the script's.
      if (result.code === 255) throw new Error(`ssh ${where} failed: ${lastLines(result.stderr) || 'exit 255'}`);
      return result;
    },
  };
}

/** The last lines of a command's error output, for a message. */
export function lastLines(text: string, lines = 3): string {
  return text
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' ');
}
