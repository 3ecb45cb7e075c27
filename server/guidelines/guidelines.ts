import { and, desc, eq, sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { guidelineReads, projectGuidelines } from '@/db/schema';
import { AppError } from '../errors';

export interface TGuidelines {
  version: number;
  body: string;
  createdAt: Date;
}

export async function getLatestGuidelines(db: TDb, projectId: number): Promise<TGuidelines | null> {
  const [row] = await db
    .select({ version: projectGuidelines.version, body: projectGuidelines.body, createdAt: projectGuidelines.createdAt })
    .from(projectGuidelines)
    .where(eq(projectGuidelines.projectId, projectId))
    .orderBy(desc(projectGuidelines.version))
    .limit(1);
  return row ?? null;
}

/** Saves the guidelines as a new version (versions are never changed, so judgments keep their meaning). */
export async function saveGuidelines(db: TDb, input: { projectId: number; body: string; userId: number | null }): Promise<TGuidelines> {
  const body = input.body.trim();
  if (!body) throw new AppError('BAD_REQUEST', 'guidelines must not be empty', { field: 'body' });
  if (body.length > 200_000) throw new AppError('BAD_REQUEST', 'guidelines are limited to 200,000 characters', { field: 'body' });
  return db.transaction(async (tx) => {
    // Serialise concurrent saves of one project so versions stay gapless and unique.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('guidelines'), ${input.projectId}::int)`);
    const latest = await getLatestGuidelines(tx, input.projectId);
    if (latest?.body === body) return latest;
    const [row] = await tx
      .insert(projectGuidelines)
      .values({ projectId: input.projectId, version: (latest?.version ?? 0) + 1, body, createdBy: input.userId })
      .returning({ version: projectGuidelines.version, body: projectGuidelines.body, createdAt: projectGuidelines.createdAt });
    return row!;
  });
}

/** The latest guidelines and whether this user has yet to read them (shown on their first visit and after a change). */
export async function getGuidelinesForUser(db: TDb, input: { projectId: number; userId: number }) {
  const latest = await getLatestGuidelines(db, input.projectId);
  if (!latest) return { latest: null, unread: false };
  const [read] = await db
    .select({ version: guidelineReads.version })
    .from(guidelineReads)
    .where(and(eq(guidelineReads.projectId, input.projectId), eq(guidelineReads.userId, input.userId)));
  return { latest, unread: (read?.version ?? 0) < latest.version };
}

export async function markGuidelinesRead(db: TDb, input: { projectId: number; userId: number; version: number }): Promise<void> {
  // Only a version that exists can be read: marking a future one would hide it when it comes.
  const latest = await getLatestGuidelines(db, input.projectId);
  if (!latest || input.version > latest.version) throw new AppError('BAD_REQUEST', `there is no guidelines version ${input.version}`, { field: 'version' });
  await db
    .insert(guidelineReads)
    .values(input)
    .onConflictDoUpdate({ target: [guidelineReads.userId, guidelineReads.projectId], set: { version: sql`greatest(${guidelineReads.version}, excluded.version)`, readAt: sql`now()` } });
}
