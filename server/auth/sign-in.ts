import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { users } from '@/db/schema';
import { BusyError } from '../limits/concurrency';
import { ZEmail, type TSessionUser } from '../users/schemas';
import { checkPassword } from '../users/users';
import { accountKey, addressKey, clearFailures, lockedForSeconds, recordFailure, signInThrottleSettings, type TSignInThrottleSettings } from './sign-in-throttle';

/** Why a sign-in was refused; only `throttled`, `busy` and `disabled` are told apart to the user. */
export type TSignInRefusal = 'invalid' | 'throttled' | 'busy' | 'disabled';

export type TSignInResult =
  | { ok: true; user: TSessionUser; /** Milliseconds since the epoch, by the database's clock. */ signedInAt: number }
  | { ok: false; reason: TSignInRefusal; retryAfterS?: number };

/** How long to suggest waiting when every password-hashing slot is taken. */
export const BUSY_RETRY_AFTER_S = 5;

/** The email in log lines: enough to follow one account's failures, without writing the address down. */
export function emailFingerprint(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 12);
}

function logRefusal(email: string, address: string | null, reason: string) {
  console.warn(`[auth] sign-in refused: account ${emailFingerprint(email)}, address ${address ?? 'unknown'}, ${reason}`);
}

/**
 * Signs in with an email and password, with backoff per account and per client address stored
 * in PostgreSQL. A locked key is refused before any password hashing, so a flood of guesses
 * costs a database read each, not an argon2 run. Wrong passwords count against both keys;
 * success clears the account's count and records when, which the session then carries.
 */
export async function signInWithPassword(
  db: TDb,
  input: { email: string; password: string; address: string | null },
  settings: TSignInThrottleSettings = signInThrottleSettings(),
): Promise<TSignInResult> {
  const parsed = ZEmail.safeParse(input.email);
  const account = parsed.success ? accountKey(parsed.data) : null;
  const address = input.address ? addressKey(input.address) : null;
  const keys = [account, address].filter((k): k is string => k !== null);

  const wait = await lockedForSeconds(db, keys);
  if (wait > 0) {
    logRefusal(input.email, input.address, `locked for ${wait} s`);
    return { ok: false, reason: 'throttled', retryAfterS: wait };
  }

  let checked: Awaited<ReturnType<typeof checkPassword>>;
  try {
    checked = await checkPassword(db, input.email, input.password);
  } catch (error) {
    if (!(error instanceof BusyError)) throw error;
    logRefusal(input.email, input.address, 'password hashing busy');
    return { ok: false, reason: 'busy', retryAfterS: BUSY_RETRY_AFTER_S };
  }

  if (!checked) {
    if (account) await recordFailure(db, account, settings.accountFailures, settings);
    if (address) await recordFailure(db, address, settings.addressFailures, settings);
    logRefusal(input.email, input.address, 'wrong email or password');
    return { ok: false, reason: 'invalid' };
  }
  if (account) await clearFailures(db, account);
  if (checked.disabled) {
    logRefusal(input.email, input.address, 'account disabled');
    return { ok: false, reason: 'disabled' };
  }
  const [row] = await db
    .update(users)
    .set({ lastSignInAt: sql`date_trunc('milliseconds', now())` })
    .where(eq(users.id, checked.user.id))
    .returning({ at: users.lastSignInAt });
  return { ok: true, user: checked.user, signedInAt: row!.at!.getTime() };
}
