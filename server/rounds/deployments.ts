import { and, eq, sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { models, runs } from '@/db/schema';
import type { TRunRow } from '../runs/rows';
import type { TExecutor } from '../executors/types';
import { storedPlan } from './stage-specs';

/**
 * The deploy stage: the new policy's server runs on as an executor job; the stage succeeds when
 * the server answers, and the registered model then points at it. The job itself is not ended
 * by the round: it is the deployment, stopped when a later deployment supersedes it.
 */

export interface TDeployment {
  baseUrl: string;
  apiModel: string;
  modelId: number;
}

const healthTimeoutMs = 5_000;

/**
 * Whether the server is up: /health, which vLLM answers once the model is loaded and
 * `transformers serve` once it listens (its /v1/models lists the hub cache and fails offline).
 */
export async function serverAnswers(baseUrl: string): Promise<boolean> {
  const root = baseUrl.replace(/\/v1\/?$/, '');
  return fetch(`${root}/health`, { signal: AbortSignal.timeout(healthTimeoutMs) }).then((r) => r.ok, () => false);
}

/** Where the worker reaches the deployment: the plan's host, or this machine for a local executor. */
export function deploymentBaseUrl(plan: { deploy: { host?: string; port: number } }, executorKind: string | null): string | null {
  const host = plan.deploy.host ?? (executorKind === 'local' ? '127.0.0.1' : null);
  return host ? `http://${host}:${plan.deploy.port}/v1` : null;
}

export type TDeployVerdict = { status: 'running' } | { status: 'succeeded'; deployment: TDeployment; superseded: number[] } | { status: 'failed'; error: string };

/**
 * One look at a deploy run whose job is up: healthy → the model is served there (and the
 * deployment of the policy the round started from is stopped); not yet → wait, up to the plan's
 * timeout, then the job is stopped and the stage fails.
 */
export async function checkDeployment(db: TDb, executor: TExecutor, run: TRunRow, context: { executorKind: string | null; startedAt: Date | null; now: Date }): Promise<TDeployVerdict> {
  const round = await db.query.rounds.findFirst({ where: (r, { eq: equals }) => equals(r.id, run.roundId!) });
  if (!round) return { status: 'failed', error: 'the round is gone' };
  const plan = storedPlan(round);
  const baseUrl = deploymentBaseUrl(plan, context.executorKind);
  if (!baseUrl) return { status: 'failed', error: 'plan.deploy.host: name the address where the worker reaches the deployment' };
  const registered = await db.query.runs.findFirst({ where: (r, { and: both, eq: equals }) => both(equals(r.roundId, round.id), equals(r.kind, 'register'), equals(r.status, 'succeeded')) });
  if (!registered?.outputModelId) return { status: 'failed', error: 'the register stage left no model to serve' };

  if (!(await serverAnswers(baseUrl))) {
    const waited = context.startedAt ? context.now.getTime() - context.startedAt.getTime() : 0;
    if (waited <= plan.deploy.healthTimeoutSeconds * 1000) return { status: 'running' };
    await executor.cancel(run.externalId!).catch(() => {});
    return { status: 'failed', error: `the server did not answer ${baseUrl.replace(/\/v1$/, '')}/health within ${plan.deploy.healthTimeoutSeconds} s; its job was stopped` };
  }

  // The model name both servers answer to: the weights' path as the job sees it (see serveRunSpec).
  const apiModel = String((run.spec as { config?: { model?: unknown } }).config?.model ?? plan.register.name);
  const deployment: TDeployment = { baseUrl, apiModel, modelId: registered.outputModelId };
  await db.update(models).set({ serving: 'openai', baseUrl, apiModel: deployment.apiModel, enabled: true }).where(eq(models.id, deployment.modelId));
  const superseded = plan.deploy.stopSuperseded && round.policyModelId ? await stopDeploymentsOf(db, executor, round.policyModelId, run) : [];
  return { status: 'succeeded', deployment, superseded };
}

/**
 * Stops the deployments Pairwise made of a model (on the same executor: another executor's jobs
 * are reached through their own rounds) and takes the model out of serving: it no longer answers.
 */
async function stopDeploymentsOf(db: TDb, executor: TExecutor, modelId: number, by: TRunRow): Promise<number[]> {
  const live = await db
    .select()
    .from(runs)
    .where(and(eq(runs.kind, 'deploy'), eq(runs.status, 'succeeded'), sql`(${runs.metrics} -> 'deployment' ->> 'modelId')::bigint = ${modelId}`, sql`not (${runs.metrics} ? 'stoppedBy')`));
  const stopped: number[] = [];
  for (const old of live) {
    if (old.executorId !== by.executorId || !old.externalId) continue;
    await executor.cancel(old.externalId).catch(() => {});
    await db.update(runs).set({ metrics: { ...old.metrics, stoppedBy: by.id, stoppedAt: new Date().toISOString() } }).where(eq(runs.id, old.id));
    stopped.push(old.id);
  }
  if (stopped.length) await db.update(models).set({ serving: 'none', enabled: false }).where(eq(models.id, modelId));
  return stopped;
}
