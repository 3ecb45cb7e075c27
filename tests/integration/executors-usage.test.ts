import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { rounds, runs } from '@/db/schema';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, makeUser } from '../helpers/factories';

const db = setupTestDatabase();

const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
const day = 24;

describe('executor usage', () => {
  it('sums GPU-hours per executor over 7 days, 30 days and all time, counts runs by status, and leaves other executors out', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const caller = callerFor(handle, db.current.url, admin);
    const box = await caller.executors.create({ name: 'usage-box', kind: 'local', config: { gpus: ['0', '1', '2', '3'] } });
    const other = await caller.executors.create({ name: 'usage-other', kind: 'local', config: {} });
    const idle = await caller.executors.create({ name: 'usage-idle', kind: 'local', config: {} });
    const [round] = await handle.db.insert(rounds).values({ name: 'round <1>', plan: {} }).returning();

    const base = { roundId: round!.id, spec: {}, executorId: box.id };
    await handle.db.insert(runs).values([
      // Ended 2 days ago: 10 GPU-hours in every window.
      { ...base, kind: 'sft', status: 'succeeded', gpus: 2, gpuSeconds: 10 * 3600, startedAt: hoursAgo(2 * day + 5), finishedAt: hoursAgo(2 * day) },
      // Ended 10 days ago: 20 GPU-hours in 30 days and all time.
      { ...base, kind: 'reward', status: 'failed', gpus: 4, gpuSeconds: 20 * 3600, startedAt: hoursAgo(10 * day + 5), finishedAt: hoursAgo(10 * day), attempt: 1 },
      // Ended 100 days ago: only all time.
      { ...base, kind: 'dpo', status: 'cancelled', gpus: 1, gpuSeconds: 5 * 3600, startedAt: hoursAgo(100 * day + 5), finishedAt: hoursAgo(100 * day) },
      // Running for 1 hour on 2 GPUs after an earlier attempt of 3 GPU-hours: 5 GPU-hours now, in every window.
      { ...base, kind: 'dpo', status: 'running', gpus: 2, gpuSeconds: 3 * 3600, metrics: { priorGpuSeconds: 3 * 3600 }, startedAt: hoursAgo(1), attempt: 1, externalId: 'pairwise-run-x-1' },
      { ...base, kind: 'merge', status: 'submitted', gpus: 1, externalId: 'pairwise-run-y-0' },
      { ...base, kind: 'eval', status: 'pending' },
      { ...base, executorId: other.id, kind: 'sft', status: 'succeeded', gpus: 8, gpuSeconds: 100 * 3600, startedAt: hoursAgo(20), finishedAt: hoursAgo(10) },
    ]);

    const usage = await caller.executors.usage();
    const of = (id: number) => usage.find((u) => u.executorId === id)!;
    expect(of(box.id).gpuHours7d).toBeCloseTo(10 + 5, 2);
    expect(of(box.id).gpuHours30d).toBeCloseTo(10 + 20 + 5, 2);
    expect(of(box.id).gpuHoursTotal).toBeCloseTo(10 + 20 + 5 + 5, 2);
    expect(of(box.id).runs).toEqual({ total: 6, active: 2, pending: 1, submitted: 1, running: 1, succeeded: 1, failed: 1, cancelled: 1 });
    expect(of(box.id).lastRunAt).toBeInstanceOf(Date);
    expect(of(other.id)).toMatchObject({ gpuHours7d: 100, gpuHours30d: 100, gpuHoursTotal: 100, runs: { total: 1, active: 0, succeeded: 1 } });
    expect(of(idle.id)).toEqual({ executorId: idle.id, gpuHours7d: 0, gpuHours30d: 0, gpuHoursTotal: 0, runs: { total: 0, active: 0, pending: 0, submitted: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 }, lastRunAt: null });

    // Recent runs, newest first, a page at a time, with the round's name and the live GPU-hours.
    const first = await caller.executors.recentRuns({ executorId: box.id, limit: 4 });
    expect(first.items.map((r) => r.kind)).toEqual(['eval', 'merge', 'dpo', 'dpo']);
    expect(first.items[2]).toMatchObject({ status: 'running', attempt: 1, externalId: 'pairwise-run-x-1', roundId: round!.id, roundName: 'round <1>', gpus: 2 });
    expect(first.items[2]!.gpuHours).toBeCloseTo(5, 2);
    expect(first.nextCursor).toBe(first.items[3]!.id);
    const second = await caller.executors.recentRuns({ executorId: box.id, limit: 4, cursor: first.nextCursor });
    expect(second.items.map((r) => [r.kind, r.status])).toEqual([
      ['reward', 'failed'],
      ['sft', 'succeeded'],
    ]);
    expect(second.items[0]!.gpuHours).toBeCloseTo(20, 2);
    expect(second.nextCursor).toBeNull();

    // Bounded pages; an unknown executor is a 404; others may not look.
    await expect(caller.executors.recentRuns({ executorId: box.id, limit: 1000 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(caller.executors.recentRuns({ executorId: 999_999 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const annotator = callerFor(handle, db.current.url, await makeUser(handle, 'annotator'));
    await expect(annotator.executors.usage()).rejects.toBeInstanceOf(TRPCError);
    await expect(annotator.executors.recentRuns({ executorId: box.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });

    // A deleted executor's finished runs keep their history but count for no executor.
    await caller.executors.delete({ id: other.id });
    expect((await caller.executors.usage()).map((u) => u.executorId)).not.toContain(other.id);
  });

  it('aggregates in the database: a thousand runs answer in one query, the page stays bounded', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const caller = callerFor(handle, db.current.url, admin);
    const many = await caller.executors.create({ name: 'usage-many', kind: 'local', config: {} });
    await handle.db.insert(runs).values(
      Array.from({ length: 1000 }, (_, i) => ({ kind: 'sft' as const, status: 'succeeded' as const, spec: {}, executorId: many.id, gpus: 1, gpuSeconds: 36, startedAt: hoursAgo(i % 50), finishedAt: hoursAgo(i % 50) })),
    );
    const usage = (await caller.executors.usage()).find((u) => u.executorId === many.id)!;
    expect(usage.gpuHoursTotal).toBeCloseTo(10, 6);
    expect(usage.runs.total).toBe(1000);
    const page = await caller.executors.recentRuns({ executorId: many.id });
    expect(page.items).toHaveLength(20);
    expect(page.nextCursor).not.toBeNull();
  });
});
