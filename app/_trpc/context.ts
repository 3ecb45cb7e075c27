import 'server-only';
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

export async function createRequestContext(): Promise<TContext> {
  const db = getDb();
  return {
    db,
    user: await currentUser(),
    queue: () => getQueue(process.env.DATABASE_URL!),
    store: artifactStore(),
  };
}
