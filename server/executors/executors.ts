import fs from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { and, asc, eq, inArray, sql as dsql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { executors, runs } from '@/db/schema';
import { AppError } from '../errors';
import { postgresError } from '../postgres-errors';
import { issuePath, parseInput } from '../validation';
import {
  executorConfigSchemas,
  ZCreateExecutor,
  ZExecutorRef,
  ZUpdateExecutor,
  type TCreateExecutor,
  type TExecutorKind,
  type TParsedExecutorConfig,
  type TUpdateExecutor,
} from './schemas';

/** An executor as admins see it: its config holds no secrets, only the names of the variables that do. */
export interface TExecutorInfo {
  id: number;
  name: string;
  kind: TExecutorKind;
  config: Record<string, unknown>;
  enabled: boolean;
  createdAt: Date;
  /** Environment variables the config refers to (secrets, auth headers). */
  secretEnv: string[];
  /** Those of them not set in this process (the worker must have them; the web app need not). */
  missingEnv: string[];
}

type TExecutorRow = typeof executors.$inferSelect;

/** Validates a config for its kind; a failure is a 400 naming the field (`config.address`). */
export function parseExecutorConfig(kind: TExecutorKind, config: unknown, field = 'config'): TParsedExecutorConfig {
  const schema = executorConfigSchemas[kind];
  if (!schema) throw new AppError('BAD_REQUEST', `${field}: unknown executor kind ${String(kind)}`, { field });
  const result = schema.safeParse(config ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const at = issuePath([field, ...issue.path]);
    throw new AppError('BAD_REQUEST', `${at}: ${issue.message}`, { field: at });
  }
  return { kind, config: result.data } as TParsedExecutorConfig;
}

/** Names of the worker environment variables a config reads secrets from (Ray's secretEnv names the Ray node's, not the worker's). */
export function referencedEnv(parsed: TParsedExecutorConfig): string[] {
  const names = new Set<string>();
  if (parsed.kind === 'local') for (const name of Object.values(parsed.config.secretEnv ?? {})) names.add(name);
  if (parsed.kind === 'ray') for (const name of Object.values(parsed.config.headers ?? {})) names.add(name);
  if (parsed.kind === 'slurm') {
    if (parsed.config.ssh?.identityFileEnv) names.add(parsed.config.ssh.identityFileEnv);
    // Through SSH the secrets are the login node's variables, not the worker's.
    if (!parsed.config.ssh) for (const name of Object.values(parsed.config.secretEnv ?? {})) names.add(name);
  }
  return [...names].sort();
}

function toInfo(row: TExecutorRow): TExecutorInfo {
  let secretEnv: string[] = [];
  try {
    secretEnv = referencedEnv(parseExecutorConfig(row.kind, row.config));
  } catch {
    // A config stored before a schema change still lists; using it reports the problem.
  }
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    config: row.config,
    enabled: row.enabled,
    createdAt: row.createdAt,
    secretEnv,
    missingEnv: secretEnv.filter((name) => !process.env[name]),
  };
}

export async function createExecutor(db: TDb, input: TCreateExecutor): Promise<TExecutorInfo> {
  const data = parseInput(ZCreateExecutor, input);
  const [row] = await db
    .insert(executors)
    .values({ name: data.name, kind: data.kind, config: data.config as Record<string, unknown>, enabled: data.enabled })
    .onConflictDoNothing({ target: executors.name })
    .returning();
  if (!row) throw new AppError('CONFLICT', `an executor named ${data.name} already exists`, { field: 'name' });
  return toInfo(row);
}

export async function listExecutors(db: TDb): Promise<TExecutorInfo[]> {
  return (await db.select().from(executors).orderBy(asc(executors.name))).map(toInfo);
}

export async function getExecutor(db: TDb, id: number): Promise<TExecutorInfo> {
  const [row] = await db.select().from(executors).where(eq(executors.id, id));
  if (!row) throw new AppError('NOT_FOUND', `no executor with id ${id}`);
  return toInfo(row);
}

export async function requireExecutorByName(db: TDb, name: string): Promise<TExecutorInfo> {
  const [row] = await db.select().from(executors).where(eq(executors.name, name));
  if (!row) throw new AppError('NOT_FOUND', `no executor named ${name}`, { field: 'name' });
  return toInfo(row);
}

/** Renames, replaces the config (validated against the executor's kind) or enables/disables. */
export async function updateExecutor(db: TDb, input: TUpdateExecutor): Promise<TExecutorInfo> {
  const data = parseInput(ZUpdateExecutor, input);
  const current = await getExecutor(db, data.id);
  const changes: Partial<typeof executors.$inferInsert> = {};
  if (data.name !== undefined) changes.name = data.name;
  if (data.enabled !== undefined) changes.enabled = data.enabled;
  if (data.config !== undefined) changes.config = parseExecutorConfig(current.kind, data.config).config as Record<string, unknown>;
  if (Object.keys(changes).length === 0) return current;
  try {
    const [row] = await db.update(executors).set(changes).where(eq(executors.id, data.id)).returning();
    if (!row) throw new AppError('NOT_FOUND', `no executor with id ${data.id}`);
    return toInfo(row);
  } catch (error) {
    if (postgresError(error)?.code === '23505') throw new AppError('CONFLICT', `an executor named ${data.name} already exists`, { field: 'name' });
    throw error;
  }
}

const activeRunStatuses = ['submitted', 'running'] as const;

/** Deletes an executor that no run is using right now (finished runs keep their history, without it). */
export async function deleteExecutor(db: TDb, id: number): Promise<{ id: number }> {
  parseInput(ZExecutorRef, { id });
  return db.transaction(async (tx) => {
    const [row] = await tx.select({ id: executors.id }).from(executors).where(eq(executors.id, id)).for('update');
    if (!row) throw new AppError('NOT_FOUND', `no executor with id ${id}`);
    const [active] = await tx
      .select({ n: dsql<number>`count(*)::int` })
      .from(runs)
      .where(and(eq(runs.executorId, id), inArray(runs.status, [...activeRunStatuses])));
    if (active && active.n > 0) throw new AppError('CONFLICT', `${active.n} run(s) are active on this executor: cancel them or disable the executor instead`);
    await tx.delete(executors).where(eq(executors.id, id));
    return { id };
  });
}

export interface TConnectionCheck {
  check: string;
  ok: boolean;
  detail: string;
}

/**
 * Where jobs queue, as the engine reports it: a Slurm partition, the GPU nodes of a Kubernetes
 * cluster, a Ray cluster. Fields the engine does not report are absent.
 */
export interface TExecutorQueue {
  name: string;
  /** The engine's own word: "up", "down", "ready", ... */
  state: string;
  isDefault?: boolean;
  nodes: number;
  /** Nodes with nothing running (Slurm "idle"). */
  idleNodes?: number;
  /** GPUs in all its nodes, and those not allocated now. */
  gpus?: number;
  gpusFree?: number;
  cpus?: number;
  /** The longest a job may run, in the engine's notation ("2-00:00:00", "infinite"). */
  timeLimit?: string;
  /** Jobs running and waiting in it (all users'). */
  running?: number;
  pending?: number;
}

export interface TConnectionResult {
  ok: boolean;
  checks: TConnectionCheck[];
  /** Present when the engine answered with its queues. */
  queues?: TExecutorQueue[];
}

/**
 * What can be checked from this process: the referenced environment variables, local folders,
 * for Ray the job server's version endpoint, for Kubernetes the API server and this identity's
 * permissions in the namespace. The worker is what submits, so a failure here may only mean that
 * this process lacks the worker's credentials; the detail says what answered.
 */
export async function testExecutorConnection(
  db: TDb,
  id: number,
  options: { fetch?: typeof fetch; kubeConfig?: KubeConfig; env?: Record<string, string | undefined> } = {},
): Promise<TConnectionResult> {
  let queues: TExecutorQueue[] | undefined;
  const info = await getExecutor(db, id);
  const parsed = parseExecutorConfig(info.kind, info.config);
  const checks: TConnectionCheck[] = info.secretEnv.map((name) => ({
    check: `$${name}`,
    ok: Boolean(process.env[name]),
    detail: process.env[name] ? 'set' : 'not set in this process (the worker needs it)',
  }));
  const folder = async (check: string, dir: string) => {
    const stat = await fs.stat(dir).catch(() => null);
    checks.push({ check, ok: Boolean(stat?.isDirectory()), detail: stat?.isDirectory() ? dir : `${dir} is not a folder here` });
  };
  if (parsed.kind === 'local') {
    if (parsed.config.workdir) await folder('workdir', parsed.config.workdir);
    checks.push({ check: 'gpus', ok: true, detail: parsed.config.gpus?.length ? `devices ${parsed.config.gpus.join(',')}` : 'no devices: only jobs without GPUs run' });
  } else if (parsed.kind === 'ray') {
    const doFetch = options.fetch ?? fetch;
    const headers: Record<string, string> = {};
    for (const [header, name] of Object.entries(parsed.config.headers ?? {})) if (process.env[name]) headers[header] = process.env[name]!;
    const url = `${parsed.config.address.replace(/\/+$/, '')}/api/version`;
    try {
      const response = await doFetch(url, { headers, signal: AbortSignal.timeout(10_000) });
      const body = (await response.json().catch(() => null)) as { ray_version?: string } | null;
      checks.push({ check: 'job server', ok: response.ok, detail: response.ok ? `Ray ${body?.ray_version ?? '(unknown version)'} at ${parsed.config.address}` : `${url} answered HTTP ${response.status}` });
    } catch (error) {
      checks.push({ check: 'job server', ok: false, detail: `${url}: ${(error as Error).message}` });
    }
    // The dashboard's node summary: only worth asking once the job server answered.
    if (checks.at(-1)?.ok) {
      const { rayClusterQueues } = await import('./ray-cluster');
      const answer = await rayClusterQueues(parsed.config, { fetch: doFetch });
      checks.push(...answer.checks);
      queues = answer.queues;
    }
  } else if (parsed.kind === 'kubernetes') {
    const file = parsed.config.kubeconfig;
    const readable = file
      ? await fs.access(file).then(
          () => true,
          () => false,
        )
      : true;
    if (file) checks.push({ check: 'kubeconfig', ok: readable, detail: readable ? file : `cannot read ${file} here` });
    // Without a readable kubeconfig there is nothing to contact the cluster with. Loaded here so
    // that the web app loads the Kubernetes client only when someone tests a cluster.
    if (readable || options.kubeConfig) {
      const { kubernetesClusterQueues } = await import('./kubernetes-cluster');
      const answer = await kubernetesClusterQueues(parsed.config, { kubeConfig: options.kubeConfig });
      checks.push(...answer.checks);
      queues = answer.queues;
    }
  } else {
    const { checkSlurmCluster } = await import('./slurm-cluster');
    const answer = await checkSlurmCluster(parsed.config, { env: options.env });
    checks.push(...answer.checks);
    queues = answer.queues;
  }
  return { ok: checks.every((c) => c.ok), checks, ...(queues ? { queues } : {}) };
}
