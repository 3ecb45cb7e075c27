import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, sql as dsql } from 'drizzle-orm';
import type { TRootDb } from '@/db/client';
import { runs } from '@/db/schema';
import { AppError } from '../errors';
import type { TSourcePrompt } from '../sampling/prompt-source';

/**
 * The life of a worker-side run (rejection sampling, generation) in its `runs` row: claimed by
 * one worker at a time (the claim writes the worker's token into `externalId`, unused by
 * worker-side runs otherwise, and every later write is conditional on it, so a worker that lost
 * the run writes nothing more; `attempt` stays the round's retry counter), progress and heartbeat
 * written at most a few times a second, cancel requests noticed on each of those writes.
 */

export type TRunRow = typeof runs.$inferSelect;
export type TWorkerRunKind = 'rejection-sampling' | 'generate';

/** A running run whose heartbeat is older than this belongs to a dead worker and may be taken over. */
export const STALE_AFTER_S = 60;
const PROGRESS_MIN_INTERVAL_MS = 250;
const HEARTBEAT_MS = 5_000;

/** Raised inside a run when its cancel was requested. */
export class RunCancelled extends Error {
  constructor() {
    super('the run was cancelled');
    this.name = 'RunCancelled';
  }
}

/** Raised inside a run when another worker took it over (or it was ended from outside). */
export class RunLost extends Error {
  constructor() {
    super('the run is no longer this worker’s');
    this.name = 'RunLost';
  }
}

/** The run as this worker claimed it: its id and the worker's token. */
export type TRunOwner = Pick<TRunRow, 'id' | 'externalId'>;

/** This process's token with a fresh part per claim: host, process id, random. */
function workerToken(): string {
  return `worker:${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** The run row while it is still this worker's: running, with its token. */
export function owned(run: TRunOwner) {
  return and(eq(runs.id, run.id), eq(runs.externalId, run.externalId ?? ''), eq(runs.status, 'running'));
}

export async function readRun(db: TRootDb, runId: number): Promise<TRunRow | null> {
  return (await db.select().from(runs).where(eq(runs.id, runId)))[0] ?? null;
}

/**
 * Takes the run for this worker when it can run: pending, submitted, failed (a retry resumes
 * it), or running with a stale heartbeat (its worker died). Never a run that succeeded, was
 * cancelled or has a cancel request. `claimed: false` comes with the row as it is (marked
 * cancelled when its cancel was requested and nobody works on it).
 */
export async function claimRun(db: TRootDb, runId: number, kind: TWorkerRunKind): Promise<{ run: TRunRow; claimed: boolean } | null> {
  const current = await readRun(db, runId);
  if (!current) return null;
  if (current.kind !== kind) throw new AppError('BAD_REQUEST', `run ${runId} is a ${current.kind} run, not ${kind}`, { field: 'runId' });
  const [run] = await db
    .update(runs)
    .set({
      status: 'running',
      startedAt: dsql`coalesce(${runs.startedAt}, now())`,
      heartbeatAt: dsql`now()`,
      finishedAt: null,
      error: null,
      externalId: workerToken(),
    })
    .where(
      and(
        eq(runs.id, runId),
        eq(runs.cancelRequested, false),
        dsql`(${runs.status} in ('pending', 'submitted', 'failed')
          or (${runs.status} = 'running' and (${runs.heartbeatAt} is null or ${runs.heartbeatAt} < now() - make_interval(secs => ${STALE_AFTER_S}))))`,
      ),
    )
    .returning();
  if (run) return { run, claimed: true };
  // A requested cancel of a run nobody works on any more (never started, failed, or its worker died) ends here.
  const [cancelled] = await db
    .update(runs)
    .set({ status: 'cancelled', finishedAt: dsql`now()` })
    .where(
      and(
        eq(runs.id, runId),
        eq(runs.cancelRequested, true),
        dsql`(${runs.status} in ('pending', 'submitted', 'failed')
          or (${runs.status} = 'running' and (${runs.heartbeatAt} is null or ${runs.heartbeatAt} < now() - make_interval(secs => ${STALE_AFTER_S}))))`,
      ),
    )
    .returning();
  return { run: cancelled ?? (await readRun(db, runId)) ?? current, claimed: false };
}

/**
 * Calls `attempt` (a run function) until the run is not held by another live worker: a
 * duplicate job (pg-boss re-delivers a job that outlived its expiry) waits for the holder to
 * finish, and takes the run over if the holder's heartbeat goes stale.
 */
export async function whenNotHeld(attempt: () => Promise<TRunRow | null>, options: { pollMs?: number; signal?: AbortSignal } = {}): Promise<TRunRow | null> {
  for (;;) {
    const run = await attempt();
    if (!run || run.status !== 'running') return run;
    await sleep(options.pollMs ?? 15_000, undefined, options.signal ? { signal: options.signal } : undefined).catch(() => undefined);
    if (options.signal?.aborted) return run;
  }
}

/** Ends the run this worker holds; nothing happens (null) when it is no longer this worker's. */
export async function endRun(db: TRootDb, run: TRunOwner, set: Partial<typeof runs.$inferInsert>): Promise<TRunRow | null> {
  const [row] = await db
    .update(runs)
    .set({ ...set, heartbeatAt: dsql`now()` })
    .where(owned(run))
    .returning();
  return row ?? null;
}

export interface TProgress {
  /** Counts one more prompt done; the write follows within PROGRESS_MIN_INTERVAL_MS. */
  advance(): void;
  readonly done: number;
  /** Stops the timers and waits for a write in progress. */
  stop(): Promise<void>;
}

/**
 * Writes progressDone and the heartbeat, at most every 250 ms while prompts finish and every
 * 5 s regardless (requests stuck in backoff still prove the worker alive, and a cancel request
 * is still noticed). Each write reads the cancel flag back: a requested cancel or a lost run
 * calls `onStop` with RunCancelled or RunLost.
 */
export function startProgress(db: TRootDb, run: TRunOwner, initialDone: number, onStop: (reason: Error) => void): TProgress {
  let done = initialDone;
  let lastWrite = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> | null = null;
  let dirty = false;
  let stopped = false;

  const write = async () => {
    lastWrite = Date.now();
    const [row] = await db
      .update(runs)
      .set({ progressDone: done, heartbeatAt: dsql`now()` })
      .where(owned(run))
      .returning({ cancelRequested: runs.cancelRequested });
    if (!row) onStop(new RunLost());
    else if (row.cancelRequested) onStop(new RunCancelled());
  };
  const schedule = () => {
    if (stopped) return;
    if (writing || timer) {
      dirty = true;
      return;
    }
    dirty = false;
    timer = setTimeout(
      () => {
        timer = undefined;
        // A failed write (the database restarting) is retried by the next one; the heartbeat goes stale only if they all fail.
        writing = write()
          .catch(() => {})
          .finally(() => {
            writing = null;
            if (dirty) schedule();
          });
      },
      Math.max(0, lastWrite + PROGRESS_MIN_INTERVAL_MS - Date.now()),
    );
  };
  const heartbeat = setInterval(schedule, HEARTBEAT_MS);
  return {
    advance() {
      done += 1;
      schedule();
    },
    get done() {
      return done;
    },
    async stop() {
      stopped = true;
      clearInterval(heartbeat);
      clearTimeout(timer);
      await writing;
    },
  };
}

/**
 * Runs `fn` on prompts from `next` with `workers` prompts in progress at once. The first failure
 * aborts `controller` (stopping the other prompts' requests) and is thrown once they settle; an
 * abort from outside (cancel, shutdown) throws the abort reason.
 */
export async function forEachPrompt(
  next: () => Promise<TSourcePrompt | null>,
  workers: number,
  controller: AbortController,
  fn: (prompt: TSourcePrompt) => Promise<void>,
): Promise<void> {
  const signal = controller.signal;
  const worker = async () => {
    while (!signal.aborted) {
      const prompt = await next();
      if (!prompt || signal.aborted) return;
      try {
        await fn(prompt);
      } catch (error) {
        if (!signal.aborted) controller.abort(error);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
  if (signal.aborted) throw signal.reason;
}

/** Prompts in progress for `concurrency` requests in flight: enough that waiting on the database never leaves a slot idle. */
export function promptWorkers(concurrency: number, pending: number): number {
  return Math.max(1, Math.min(pending, concurrency * 2));
}

/** Combines an optional outer signal into a new controller, so the run can also abort itself. */
export function linkedController(outer?: AbortSignal): { controller: AbortController; unlink(): void } {
  const controller = new AbortController();
  // Every request in flight or waiting for a slot listens to the run's signal: hundreds is normal.
  setMaxListeners(0, controller.signal);
  if (!outer) return { controller, unlink: () => {} };
  const onAbort = () => controller.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  return { controller, unlink: () => outer.removeEventListener('abort', onAbort) };
}

let shutdown: AbortController | null = null;

/**
 * Aborted when the worker process is asked to stop (SIGTERM, SIGINT), so a long run goes back
 * to pending at once instead of waiting for its heartbeat to go stale. Only hooked when the
 * process already handles those signals (the worker does): an extra listener must not change
 * whether the process exits.
 */
export function workerShutdownSignal(): AbortSignal | undefined {
  if (shutdown) return shutdown.signal;
  if (process.listenerCount('SIGTERM') === 0) return undefined;
  shutdown = new AbortController();
  const controller = shutdown;
  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.on(name, () => controller.abort(new Error(`the worker is stopping (${name})`)));
  }
  return controller.signal;
}
