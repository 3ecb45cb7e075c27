import { and, desc, eq, inArray } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { TDbHandle } from '@/db/client';
import { rounds, runs } from '@/db/schema';
import { enqueueAdvance, enqueuePoll, enqueueStart } from './enqueue';
import { createStageRun } from './launch';
import { planStages, type TStageKind } from './plan';
import { isExecutorRun, storedPlan } from './stage-specs';
import type { TArtifactStore } from '../artifacts/store';
import { AppError } from '../errors';
import { inTx } from '../jobs/transaction';
import { priorGpuSeconds, requireRound, type TRoundRow } from '../runs/rows';

/**
 * Moves a round on from its current stage: the next stage's run is created and started when the
 * current one succeeded; a failed or cancelled run ends the round. Runs under a row lock on the
 * round, and re-reads everything, so duplicate or late calls do nothing.
 */
export async function advanceRound(handle: TDbHandle, boss: PgBoss, store: Pick<TArtifactStore, 'uri'>, roundId: number): Promise<{ status: string; stage: number }> {
  return inTx(handle, async (db, tx) => {
    const [round] = await db.select().from(rounds).where(eq(rounds.id, roundId)).for('update');
    if (!round) return { status: 'missing', stage: -1 };
    if (round.status !== 'running') return { status: round.status, stage: round.currentStage };
    const plan = storedPlan(round);
    const stages = planStages(plan);
    const [current] = await db
      .select()
      .from(runs)
      .where(and(eq(runs.roundId, round.id), eq(runs.stage, round.currentStage)))
      .orderBy(desc(runs.id))
      .limit(1);
    if (!current) {
      // The stage's run was never written (should not happen): start it.
      const kind = stages[round.currentStage]!;
      const run = await createStageRun(db, store, round, round.currentStage, kind);
      await enqueueStart(boss, tx, { ...run, kind });
      return { status: 'running', stage: round.currentStage };
    }
    if (current.status === 'failed' || current.status === 'cancelled') {
      const status = current.status;
      await db
        .update(rounds)
        .set({ status, error: current.error ?? `stage ${round.currentStage} (${current.kind}) ${status}`, finishedAt: new Date() })
        .where(eq(rounds.id, round.id));
      return { status, stage: round.currentStage };
    }
    if (current.status !== 'succeeded') return { status: 'running', stage: round.currentStage };
    const next = round.currentStage + 1;
    if (next >= stages.length) {
      await db.update(rounds).set({ status: 'succeeded', finishedAt: new Date(), error: null }).where(eq(rounds.id, round.id));
      return { status: 'succeeded', stage: round.currentStage };
    }
    const kind = stages[next]!;
    await db.update(rounds).set({ currentStage: next }).where(eq(rounds.id, round.id));
    const run = await createStageRun(db, store, { ...round, currentStage: next }, next, kind);
    await enqueueStart(boss, tx, { ...run, kind });
    return { status: 'running', stage: next };
  });
}

/**
 * Cancels a round: the active run is flagged (its poll asks the executor to stop; worker-side
 * stages watch the flag), a run not yet submitted is cancelled at once, and the round ends.
 */
export async function cancelRound(handle: TDbHandle, boss: PgBoss, roundId: number): Promise<TRoundRow> {
  await inTx(handle, async (db, tx) => {
    const [round] = await db.select().from(rounds).where(eq(rounds.id, roundId)).for('update');
    if (!round) throw new AppError('NOT_FOUND', `no round ${roundId}`);
    if (round.status !== 'running' && round.status !== 'planned') throw new AppError('CONFLICT', `round ${roundId} is ${round.status}`);
    const active = await db
      .select()
      .from(runs)
      .where(and(eq(runs.roundId, roundId), inArray(runs.status, ['pending', 'submitted', 'running'])));
    for (const run of active) {
      if (run.status === 'pending' && !run.externalId) {
        await db.update(runs).set({ status: 'cancelled', cancelRequested: true, finishedAt: new Date(), error: 'cancelled' }).where(eq(runs.id, run.id));
      } else {
        await db.update(runs).set({ cancelRequested: true }).where(eq(runs.id, run.id));
        if (isExecutorRun(run)) await enqueuePoll(boss, tx, run.id, 0);
      }
    }
    await db.update(rounds).set({ status: 'cancelled', finishedAt: new Date(), error: 'cancelled by an admin' }).where(eq(rounds.id, roundId));
  });
  return requireRound(handle.db, roundId);
}

/**
 * Retries a failed (or cancelled) round's current stage. The stage keeps its run row: the
 * attempt number goes up, the previous attempt's external id, error and GPU time are kept in
 * the run's metrics (`attempts`), its log stays under `logs/attempt-<n>.log`.
 */
export async function retryStage(handle: TDbHandle, boss: PgBoss, roundId: number, options: { gateOverrideReason?: string; by?: number | null } = {}): Promise<TRoundRow> {
  await inTx(handle, async (db, tx) => {
    const [round] = await db.select().from(rounds).where(eq(rounds.id, roundId)).for('update');
    if (!round) throw new AppError('NOT_FOUND', `no round ${roundId}`);
    if (round.status !== 'failed' && round.status !== 'cancelled') throw new AppError('CONFLICT', `round ${roundId} is ${round.status}: only a failed or cancelled round can retry a stage`);
    const [run] = await db
      .select()
      .from(runs)
      .where(and(eq(runs.roundId, roundId), eq(runs.stage, round.currentStage)))
      .orderBy(desc(runs.id))
      .limit(1);
    if (!run) throw new AppError('CONFLICT', `round ${roundId} has no run at stage ${round.currentStage}`);
    if (run.status === 'succeeded') {
      // The run ended well after the round had given up on it (a worker-side job's own retry
      // resumed it): nothing to run again, the round just moves on.
      await db.update(rounds).set({ status: 'running', error: null, finishedAt: null }).where(eq(rounds.id, roundId));
      await enqueueAdvance(boss, tx, roundId);
      return;
    }
    if (run.status !== 'failed' && run.status !== 'cancelled') throw new AppError('CONFLICT', `the stage's run is ${run.status}`);
    const attempts = Array.isArray((run.metrics as { attempts?: unknown }).attempts) ? ((run.metrics as { attempts: unknown[] }).attempts as unknown[]) : [];
    const metrics = {
      ...run.metrics,
      attempts: [...attempts, { attempt: run.attempt, externalId: run.externalId, status: run.status, error: run.error, gpuSeconds: run.gpuSeconds - priorGpuSeconds(run), finishedAt: run.finishedAt }],
      priorGpuSeconds: run.gpuSeconds,
    };
    const reason = options.gateOverrideReason?.trim();
    if (reason && run.kind !== 'register') throw new AppError('BAD_REQUEST', `a gate override applies to the register stage; round ${roundId} stopped at ${run.kind}`, { field: 'gateOverrideReason' });
    // The override is written into the stage's settings with who gave it: the register stage records it with the model.
    const spec = reason ? { ...run.spec, gate: { ...(run.spec.gate as Record<string, unknown> | undefined), overrideReason: reason, overrideBy: options.by ?? null } } : run.spec;
    const [next] = await db
      .update(runs)
      .set({ status: 'pending', attempt: run.attempt + 1, externalId: null, error: null, cancelRequested: false, submittedAt: null, startedAt: null, finishedAt: null, metrics, spec })
      .where(eq(runs.id, run.id))
      .returning();
    await db.update(rounds).set({ status: 'running', error: null, finishedAt: null }).where(eq(rounds.id, roundId));
    await enqueueStart(boss, tx, { ...next!, kind: next!.kind as TStageKind });
  });
  return requireRound(handle.db, roundId);
}

/**
 * After a worker restart: every running round gets an advance, every active run a start or a
 * poll. Jobs re-read rows, so extra jobs are harmless; lost ones are replaced.
 */
export async function resumeRounds(handle: TDbHandle, boss: PgBoss): Promise<{ rounds: number; runs: number }> {
  const running = await handle.db.select().from(rounds).where(eq(rounds.status, 'running'));
  let resumed = 0;
  for (const round of running) {
    const active = await handle.db
      .select()
      .from(runs)
      .where(and(eq(runs.roundId, round.id), inArray(runs.status, ['pending', 'submitted', 'running'])));
    await inTx(handle, async (_db, tx) => {
      for (const run of active) {
        resumed += 1;
        if (run.status === 'pending' || (!isExecutorRun(run) && run.kind !== 'rejection-sampling')) await enqueueStart(boss, tx, { ...run, kind: run.kind as TStageKind });
        else await enqueuePoll(boss, tx, run.id, 0);
      }
      await enqueueAdvance(boss, tx, round.id);
    });
  }
  return { rounds: running.length, runs: resumed };
}
