import { AppError } from '@/server/errors';
import type { TExecutorJob } from './types';

/** The idempotency key shared by every executor: Ray submission_id, Kubernetes Job name, local state folder. */
export function jobName(job: Pick<TExecutorJob, 'runId' | 'attempt'>): string {
  return `pairwise-run-${job.runId}-${job.attempt}`;
}

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Rejects jobs that no executor could run faithfully, before anything is started. */
export function assertValidJob(job: TExecutorJob): void {
  const bad = (field: string, message: string) => new AppError('BAD_REQUEST', `${field}: ${message}`, { field });
  if (!Number.isSafeInteger(job.runId) || job.runId < 1) throw bad('runId', 'must be a positive integer');
  if (!Number.isSafeInteger(job.attempt) || job.attempt < 0) throw bad('attempt', 'must be an integer >= 0');
  if (!Array.isArray(job.command) || job.command.length === 0 || job.command.some((a) => typeof a !== 'string')) throw bad('command', 'must be a non-empty list of strings');
  if (job.command[0] === '') throw bad('command', 'the program name is empty');
  if (!Number.isSafeInteger(job.gpus) || job.gpus < 0) throw bad('gpus', 'must be an integer >= 0');
  if (job.nodes !== undefined && (!Number.isSafeInteger(job.nodes) || job.nodes < 1)) throw bad('nodes', 'must be an integer >= 1');
  for (const [name, value] of Object.entries(job.env)) {
    if (!envName.test(name)) throw bad('env', `${name} is not an environment variable name`);
    if (typeof value !== 'string') throw bad('env', `${name} must be a string`);
  }
  if (!job.artifactPrefix.endsWith('/')) throw bad('artifactPrefix', 'must end with /');
}

/**
 * The values of secret variables, read from the worker's environment at submit time:
 * `refs` maps the job's variable to the name of the worker variable holding it.
 */
export function resolveSecretEnv(refs: Record<string, string> | undefined, source: Record<string, string | undefined> = process.env, field = 'secretEnv'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [target, from] of Object.entries(refs ?? {})) {
    const value = source[from];
    if (value === undefined || value === '') throw new AppError('BAD_REQUEST', `${field}.${target}: $${from} is not set on the worker`, { field: `${field}.${target}` });
    out[target] = value;
  }
  return out;
}

const safeShellWord = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX shell quoting: each argument survives `sh -c` exactly as given. */
export function shellQuote(argv: string[]): string {
  return argv.map((arg) => (arg !== '' && safeShellWord.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The last `tailBytes` bytes of a text, never starting inside a UTF-8 sequence. */
export function tailText(text: string, tailBytes: number | undefined): string {
  if (tailBytes === undefined) return text;
  return tailBuffer(Buffer.from(text, 'utf8'), tailBytes);
}

export function tailBuffer(bytes: Buffer, tailBytes: number): string {
  if (tailBytes <= 0) return '';
  let start = Math.max(0, bytes.length - tailBytes);
  while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString('utf8');
}

/** How many nodes a job spans (1 when not given). */
export function jobNodes(job: Pick<TExecutorJob, 'nodes'>): number {
  return job.nodes ?? 1;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
