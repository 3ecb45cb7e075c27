import 'server-only';
import { TRPCError } from '@trpc/server';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '@/db/availability';
import { getDb } from '@/db/client';
import { artifactStore } from '@/server/artifacts/store';
import { auth } from '@/server/auth/next-auth';
import { getQueue } from '@/server/jobs/queue';
import type { TContext } from '@/server/trpc';
import { getSessionUser } from '@/server/users/account-status';
import type { TSessionUser } from '@/server/users/schemas';

/** The signed-in user, re-read from the database (null when signed out, deleted, disabled or signed out everywhere). */
export async function currentUser(): Promise<TSessionUser | null> {
  const session = await auth();
  const id = Number(session?.user?.id);
  if (!Number.isInteger(id) || id <= 0) return null;
  return getSessionUser(getDb().db, id, session?.signedInAt);
}

/** The session's user; with the database away, a 503 to retry (thrown before any procedure runs). */
async function requestUser(): Promise<TSessionUser | null> {
  try {
    return await currentUser();
  } catch (error) {
    if (isDatabaseUnavailable(error)) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: DATABASE_UNAVAILABLE_MESSAGE, cause: error });
    throw error;
  }
}

export async function createRequestContext(): Promise<TContext> {
  const db = getDb();
  return {
    db,
    user: await requestUser(),
    queue: () => getQueue(process.env.DATABASE_URL!),
    store: artifactStore(),
  };
}
