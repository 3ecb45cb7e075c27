import { describe, expect, it } from 'vitest';
import { backoffDelay, createLimiter, mapWithConcurrency, retryAfterMs } from '@/server/inference/http';

describe('sampling request policy', () => {
  it('backs off exponentially with jitter in [d/2, d], capped, and never below what the server asked', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelay(policy, 0, null, () => 0)).toBe(50);
    expect(backoffDelay(policy, 0, null, () => 0.999999)).toBeCloseTo(100, 3);
    expect(backoffDelay(policy, 3, null, () => 0)).toBe(400);
    expect(backoffDelay(policy, 10, null, () => 1)).toBe(1_000);
    expect(backoffDelay(policy, 0, 2_500, () => 0)).toBe(2_500);
    // A server asking for hours is waited for five minutes at most.
    expect(backoffDelay(policy, 0, 3 * 3_600_000, () => 0)).toBe(300_000);
  });

  it('reads Retry-After in seconds or as a date, and retry-after-ms first', () => {
    expect(retryAfterMs({ 'retry-after': '2' })).toBe(2_000);
    expect(retryAfterMs({ 'retry-after': '0.5' })).toBe(500);
    expect(retryAfterMs({ 'retry-after': '2', 'retry-after-ms': '120' })).toBe(120);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterMs({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }, now)).toBe(3_000);
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeNull();
    expect(retryAfterMs({})).toBeNull();
  });

  it('limits tasks in flight, starts them in arrival order, and drops a waiter whose signal aborts', async () => {
    const limiter = createLimiter(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const task = (i: number) => async () => {
      started.push(i);
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running -= 1;
      return i;
    };
    const aborted = new AbortController();
    const results = Array.from({ length: 8 }, (_, i) => (i === 5 ? limiter.run(task(i), aborted.signal).catch((e: Error) => e.message) : limiter.run(task(i))));
    aborted.abort(new Error('gone'));
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4, 'gone', 6, 7]);
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 6, 7]);
    expect(limiter.active).toBe(0);
  });

  it('maps with bounded concurrency in input order, and throws the first failure', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapWithConcurrency([5, 1, 3, 2, 4], 2, async (x) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, x));
      running -= 1;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 30, 20, 40]);
    expect(peak).toBe(2);
    const calls: number[] = [];
    await expect(
      mapWithConcurrency([1, 2, 3, 4], 1, async (x) => {
        calls.push(x);
        if (x === 2) throw new Error('two');
        return x;
      }),
    ).rejects.toThrow('two');
    expect(calls).toEqual([1, 2]);
  });
});
