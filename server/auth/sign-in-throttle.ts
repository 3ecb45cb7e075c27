import { eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { signInFailures } from '@/db/schema';
import { env } from '../env';

export interface TSignInThrottleSettings {
  /** Failures of one account before it is locked out. */
  accountFailures: number;
  /** Failures from one client address (any accounts) before it is locked out. */
  addressFailures: number;
  /** The first lock-out, doubled by each further failure... */
  lockS: number;
  /** ...up to this. */
  maxLockS: number;
  /** A key's count starts over after this long without a failure. */
  forgetS: number;
}

export function signInThrottleSettings(): TSignInThrottleSettings {
  const e = env();
  return {
    accountFailures: e.PAIRWISE_SIGNIN_ACCOUNT_FAILURES,
    addressFailures: e.PAIRWISE_SIGNIN_ADDRESS_FAILURES,
    lockS: e.PAIRWISE_SIGNIN_LOCK_S,
    maxLockS: e.PAIRWISE_SIGNIN_MAX_LOCK_S,
    forgetS: e.PAIRWISE_SIGNIN_FORGET_S,
  };
}

export const accountKey = (email: string) => `account:${email.slice(0, 320)}`;
export const addressKey = (address: string) => `address:${address}`;

/** Whole seconds until the latest lock on any of the keys ends; 0 when none is locked. */
export async function lockedForSeconds(db: TDb, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const [row] = await db
    .select({ seconds: sql<number>`coalesce(ceil(extract(epoch from max(${signInFailures.lockedUntil}) - now())), 0)::int` })
    .from(signInFailures)
    .where(sql`${inArray(signInFailures.key, keys)} and ${signInFailures.lockedUntil} > now()`);
  return Math.max(0, row?.seconds ?? 0);
}

/**
 * Counts a failure for a key, in one statement (concurrent failures on several web processes
 * all count), and locks the key from the `threshold`-th failure on: lockS, then doubled per
 * further failure, at most maxLockS.
 */
export async function recordFailure(db: TDb, key: string, threshold: number, s: TSignInThrottleSettings): Promise<void> {
  const failures = sql`case when ${signInFailures.lastFailureAt} < now() - make_interval(secs => ${s.forgetS}) then 1 else ${signInFailures.failures} + 1 end`;
  const lockUntil = (n: SQL) =>
    sql`case when ${n} >= ${threshold} then now() + make_interval(secs => least(${s.maxLockS}::float8, ${s.lockS}::float8 * power(2, least(${n} - ${threshold}, 30)))) end`;
  await db
    .insert(signInFailures)
    .values({ key, failures: 1, lockedUntil: sql`${lockUntil(sql`1`)}` })
    .onConflictDoUpdate({
      target: signInFailures.key,
      set: { failures, lastFailureAt: sql`now()`, lockedUntil: lockUntil(failures) },
    });
  // Old counters are useless; an occasional failure clears them, so no job is needed.
  if (Math.random() < 0.01) {
    await db.execute(
      sql`delete from sign_in_failures where last_failure_at < now() - make_interval(secs => ${s.forgetS}) and (locked_until is null or locked_until < now())`,
    );
  }
}

/** A successful sign-in clears the account's count (never the address's: one good account must not reset guessing at others). */
export async function clearFailures(db: TDb, key: string): Promise<void> {
  await db.delete(signInFailures).where(eq(signInFailures.key, key));
}
