import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { users } from '@/db/schema';
import { AppError } from '../errors';
import type { TRole, TSessionUser } from './schemas';

/**
 * The user a session belongs to, re-read on every request: null when the account is gone or
 * disabled, or when the session signed in before the user's sessions were revoked. So signing
 * out everywhere, disabling an account and role changes take effect on the next request.
 *
 * `signedInAt` (milliseconds) is the sign-in time the session carries; a session without one
 * (issued before sessions carried it) counts as infinitely old.
 */
export async function getSessionUser(db: TDb, id: number, signedInAt: number | null | undefined): Promise<TSessionUser | null> {
  const [row] = await db
    .select({ id: users.id, email: users.email, role: users.role, disabledAt: users.disabledAt, sessionsValidAfter: users.sessionsValidAfter })
    .from(users)
    .where(eq(users.id, id));
  if (!row || row.disabledAt) return null;
  if (row.sessionsValidAfter && (signedInAt ?? 0) < row.sessionsValidAfter.getTime()) return null;
  return { id: row.id, email: row.email, role: row.role };
}

// Millisecond precision: the sign-in time a session carries is a JavaScript time.
const nowToTheMs = sql`date_trunc('milliseconds', now())`;

/** Ends every session of the user (browsers sign in again); API tokens are not sessions and stay. */
export async function revokeSessions(db: TDb, userId: number): Promise<void> {
  const [row] = await db.update(users).set({ sessionsValidAfter: nowToTheMs }).where(eq(users.id, userId)).returning({ id: users.id });
  if (!row) throw new AppError('NOT_FOUND', `no user with id ${userId}`, { field: 'userId' });
}

/**
 * Disables an account: it can no longer sign in, its sessions end, and its API tokens stop
 * working. The last active platform admin cannot be disabled, or nobody could undo it.
 */
export async function disableUser(db: TDb, userId: number): Promise<TUserSummary> {
  return db.transaction(async (tx) => {
    // Locks the active admins, so that two admins disabling each other cannot both succeed.
    const activeAdmins = await tx
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.role, 'admin'), isNull(users.disabledAt)))
      .for('update');
    const [target] = await tx.select({ role: users.role, disabledAt: users.disabledAt }).from(users).where(eq(users.id, userId));
    if (!target) throw new AppError('NOT_FOUND', `no user with id ${userId}`, { field: 'userId' });
    if (target.role === 'admin' && !target.disabledAt && activeAdmins.every((a) => a.id === userId)) {
      throw new AppError('CONFLICT', 'this is the last active platform admin: make another user admin before disabling this one', { field: 'userId' });
    }
    await tx
      .update(users)
      .set({ disabledAt: sql`coalesce(${users.disabledAt}, now())`, sessionsValidAfter: nowToTheMs })
      .where(eq(users.id, userId));
    return (await listUsers(tx, userId))[0]!;
  });
}

/** Lets a disabled account sign in again (its old sessions stay ended). */
export async function enableUser(db: TDb, userId: number): Promise<TUserSummary> {
  const [row] = await db.update(users).set({ disabledAt: null }).where(eq(users.id, userId)).returning({ id: users.id });
  if (!row) throw new AppError('NOT_FOUND', `no user with id ${userId}`, { field: 'userId' });
  return (await listUsers(db, userId))[0]!;
}

export interface TUserSummary {
  id: number;
  email: string;
  name: string | null;
  role: TRole;
  createdAt: Date;
  disabledAt: Date | null;
  lastSignInAt: Date | null;
}

/** Every user (or one) for platform admins: no password hashes. */
export async function listUsers(db: TDb, onlyId?: number): Promise<TUserSummary[]> {
  return db
    .select({ id: users.id, email: users.email, name: users.name, role: users.role, createdAt: users.createdAt, disabledAt: users.disabledAt, lastSignInAt: users.lastSignInAt })
    .from(users)
    .where(onlyId === undefined ? undefined : eq(users.id, onlyId))
    .orderBy(asc(users.email));
}
