import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { env, type TRateLimit } from '../env';
import { AppError } from '../errors';

/** A refusal that says when to come back; the HTTP layers turn it into 429 with Retry-After. */
export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super('TOO_MANY_REQUESTS', message);
  }
}

export function isRateLimitedError(error: unknown): error is RateLimitedError {
  return error instanceof RateLimitedError;
}

/** The named limits and the settings they come from. */
const settings = {
  exports: 'PAIRWISE_RATE_LIMIT_EXPORTS',
  downloads: 'PAIRWISE_RATE_LIMIT_DOWNLOADS',
  'dataset-builds': 'PAIRWISE_RATE_LIMIT_DATASET_BUILDS',
  stats: 'PAIRWISE_RATE_LIMIT_STATS',
  'live-turns': 'PAIRWISE_RATE_LIMIT_LIVE_TURNS',
} as const;
export type TRateLimitName = keyof typeof settings;

/** A named limit as configured; null when it is switched off. */
export function configuredLimit(name: TRateLimitName): TRateLimit | null {
  return env()[settings[name]];
}

export interface TRateLimitHit {
  allowed: boolean;
  count: number;
  /** Seconds until the current window ends (at least 1). */
  retryAfterS: number;
}

/**
 * Counts one request against `key` in the current fixed window and says whether it is within
 * the limit. One statement, so concurrent requests on any number of web processes count
 * exactly: the row lock of the upsert serialises them.
 */
export async function hitRateLimit(db: TDb, key: string, limit: TRateLimit): Promise<TRateLimitHit> {
  const rows = await db.execute<{ count: number; retry_after_s: number }>(sql`
    insert into rate_limit_counters (key, window_start, count)
    values (${key}, to_timestamp(floor(extract(epoch from now()) / ${limit.windowS}) * ${limit.windowS}), 1)
    on conflict (key, window_start) do update set count = rate_limit_counters.count + 1
    returning count, greatest(1, ceil(extract(epoch from window_start) + ${limit.windowS} - extract(epoch from now())))::int as retry_after_s`);
  const row = rows[0]!;
  // Past windows are useless; a few callers clear them, so the table stays small without a job.
  if (Math.random() < 0.01) await db.execute(sql`delete from rate_limit_counters where window_start < now() - interval '1 day'`);
  return { allowed: row.count <= limit.limit, count: row.count, retryAfterS: row.retry_after_s };
}

/** Counts a request by `subject` (e.g. `user:12`) against a named limit; throws RateLimitedError past it. */
export async function enforceRateLimit(db: TDb, name: TRateLimitName, subject: string, limit: TRateLimit | null = configuredLimit(name)): Promise<void> {
  if (!limit) return;
  const hit = await hitRateLimit(db, `${name}:${subject}`, limit);
  if (!hit.allowed) {
    throw new RateLimitedError(`too many ${name} requests (at most ${limit.limit} in ${limit.windowS} s); try again in ${hit.retryAfterS} s`, hit.retryAfterS);
  }
}

/** The longest Retry-After among the errors of a response, or null when none is rate limited. */
export function retryAfterOf(errors: readonly { cause?: unknown }[]): number | null {
  const waits = errors.map((e) => e.cause).filter(isRateLimitedError).map((e) => e.retryAfterS);
  return waits.length ? Math.max(...waits) : null;
}
