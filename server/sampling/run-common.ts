import { eq } from 'drizzle-orm';
import type { z } from 'zod';
import type { TDbHandle, TRootDb } from '@/db/client';
import { models, runs } from '@/db/schema';
import { issuePath } from '../validation';
import type { TChatModel } from '../inference/chat-client';
import type { TRequestPolicy } from '../inference/http';
import { resolvePromptIds, RunSpecError } from './prompt-source';
import type { TRewardModel } from '../inference/reward-client';
import { claimRun, endRun, linkedController, owned, readRun, RunCancelled, RunLost, startProgress, type TProgress, type TRunRow, type TWorkerRunKind } from '../runs/run-state';
import type { TPromptSelection } from './schemas';

export type TModelRow = typeof models.$inferSelect;

/** Options of a run call that are not part of its spec. */
export interface TRunOptions {
  /** Aborting leaves the run pending (resumable at once) and returns it. */
  signal?: AbortSignal;
  /** Backoff tuning (tests shorten it); the number of retries is the spec's maxRetries. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
}

/** The run's spec, parsed; a bad spec fails the run with the field and the reason. */
export function parseRunSpec<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issuePath(issue.path);
  throw new RunSpecError(`invalid spec: ${field ? `${field}: ` : ''}${issue.message}`);
}

/** A registered, enabled model of the right kind and serving; anything else is a spec error naming the field. */
export async function loadModel(db: TRootDb, id: number, field: string, want: { kind: 'policy' | 'reward'; serving: TModelRow['serving'][] }): Promise<TModelRow> {
  const [row] = await db.select().from(models).where(eq(models.id, id));
  if (!row) throw new RunSpecError(`${field}: no model with id ${id}`);
  if (row.kind !== want.kind) throw new RunSpecError(`${field}: model ${row.name} is a ${row.kind} model, not a ${want.kind} model`);
  if (!row.enabled) throw new RunSpecError(`${field}: model ${row.name} is disabled`);
  if (!want.serving.includes(row.serving)) throw new RunSpecError(`${field}: model ${row.name} is served as ${row.serving}; this needs ${want.serving.join(' or ')}`);
  return row;
}

export function chatModelOf(row: TModelRow): TChatModel {
  return { name: row.name, baseUrl: row.baseUrl, apiModel: row.apiModel, apiKeyEnv: row.apiKeyEnv, sampling: row.sampling };
}

export function rewardModelOf(row: TModelRow): TRewardModel {
  return { name: row.name, serving: row.serving, baseUrl: row.baseUrl, apiModel: row.apiModel, apiKeyEnv: row.apiKeyEnv, artifactUri: row.artifactUri };
}

export function requestPolicy(spec: { maxRetries: number; requestTimeoutMs: number }, options: TRunOptions): Partial<TRequestPolicy> {
  return {
    maxRetries: spec.maxRetries,
    timeoutMs: spec.requestTimeoutMs,
    ...(options.retryBaseDelayMs !== undefined ? { baseDelayMs: options.retryBaseDelayMs } : {}),
    ...(options.retryMaxDelayMs !== undefined ? { maxDelayMs: options.retryMaxDelayMs } : {}),
  };
}

/** Prompt ids the run has finished already (its run_items). */
export async function finishedPromptIds(handle: TDbHandle, runId: number): Promise<Set<number>> {
  const rows = await handle.sql<{ id: string }[]>`select prompt_id as id from run_items where run_id = ${runId}`;
  return new Set(rows.map((r) => Number(r.id)));
}

/**
 * The prompts a (resumed) run still has to do: its selection less the prompts with run items,
 * with the run's progress set to match and its progress reporter started (which calls `onStop`
 * when the run is cancelled or lost to another worker).
 */
export async function pendingPrompts(
  handle: TDbHandle,
  run: TRunRow,
  selection: TPromptSelection,
  onStop: (reason: Error) => void,
): Promise<{ pending: number[]; total: number; progress: TProgress }> {
  const ids = await resolvePromptIds(handle.sql, selection);
  if (ids.length === 0) throw new RunSpecError('the prompt selection is empty');
  const finished = await finishedPromptIds(handle, run.id);
  const pending = ids.filter((id) => !finished.has(id));
  const done = ids.length - pending.length;
  await handle.db.update(runs).set({ progressTotal: ids.length, progressDone: done }).where(owned(run));
  return { pending, total: ids.length, progress: startProgress(handle.db, run, done, onStop) };
}

/** Request counters of one attempt, added to the run's metrics across attempts. */
export interface TRequestCounts {
  chat: number;
  reward: number;
  retries: number;
}

export function addCounts(metrics: Record<string, unknown>, counts: TRequestCounts, elapsedMs: number): Record<string, unknown> {
  const before = (metrics.requests ?? {}) as Partial<TRequestCounts>;
  return {
    ...metrics,
    requests: { chat: (before.chat ?? 0) + counts.chat, reward: (before.reward ?? 0) + counts.reward, retries: (before.retries ?? 0) + counts.retries },
    workSeconds: Number(((Number(metrics.workSeconds) || 0) + elapsedMs / 1000).toFixed(3)),
  };
}

/**
 * Records how an attempt ended, when the run is still this worker's: cancelled (the request
 * was honoured), pending (interrupted by the caller's signal, resumable at once) or failed with
 * the error's message. Done prompts stay in run_items either way. An SFT version being written
 * ends with the run.
 */
export async function settleRun(
  handle: TDbHandle,
  run: TRunRow,
  error: unknown,
  interrupted: boolean,
  ended: { metrics: Record<string, unknown>; progressDone?: number },
): Promise<TRunRow | null> {
  if (error instanceof RunLost) return readRun(handle.db, run.id);
  const cancelled = error instanceof RunCancelled;
  const message = error instanceof Error ? error.message : String(error);
  const status = cancelled ? 'cancelled' : interrupted ? 'pending' : 'failed';
  const row = await endRun(handle.db, run, {
    status,
    error: status === 'failed' ? message : null,
    finishedAt: status === 'pending' ? null : new Date(),
    metrics: ended.metrics,
    ...(ended.progressDone !== undefined ? { progressDone: ended.progressDone } : {}),
  });
  if (row && status !== 'pending' && row.outputVersionId !== null) {
    await handle.sql`update dataset_versions set status = ${status}, error = ${status === 'failed' ? message : null}, finished_at = now()
      where id = ${row.outputVersionId} and status = 'running'`;
  }
  return row ?? readRun(handle.db, run.id);
}

/** What the body of a claimed run works with; `state` is what a failure settles the run with. */
export interface TClaimedRun {
  run: TRunRow;
  controller: AbortController;
  counts: TRequestCounts;
  started: number;
  state: { progress: TProgress | null; metrics: Record<string, unknown> };
}

/**
 * The frame of every worker-side run: claim it (a run held by a live worker, or already ended,
 * is returned untouched), run `body`, and on any failure stop the progress reporter and settle
 * the run: cancelled, pending again (interrupted by `options.signal`, resumable) or failed.
 */
export async function withClaimedRun(
  handle: TDbHandle,
  runId: number,
  kind: TWorkerRunKind,
  options: TRunOptions,
  body: (claimed: TClaimedRun) => Promise<TRunRow | null>,
): Promise<TRunRow | null> {
  const claim = await claimRun(handle.db, runId, kind);
  if (!claim?.claimed) return claim?.run ?? null;
  const run = claim.run;
  const started = Date.now();
  const counts: TRequestCounts = { chat: 0, reward: 0, retries: 0 };
  const { controller, unlink } = linkedController(options.signal);
  const state: TClaimedRun['state'] = { progress: null, metrics: run.metrics };
  try {
    return await body({ run, controller, counts, started, state });
  } catch (error) {
    await state.progress?.stop();
    const reason = controller.signal.aborted ? controller.signal.reason : error;
    return settleRun(handle, run, reason, Boolean(options.signal?.aborted), { metrics: addCounts(state.metrics, counts, Date.now() - started), progressDone: state.progress?.done });
  } finally {
    unlink();
  }
}
