import { and, eq } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { projectMembers } from '@/db/schema';
import { AppError } from '../errors';
import type { TSessionUser } from '../users/schemas';
import { versionProjectIds } from './datasets';

/**
 * Dataset versions belong to projects' admins: a user sees a version when they administer every
 * project it draws from (platform admins see all). `null` means everything.
 */
export async function adminProjectIds(db: TDb, user: Pick<TSessionUser, 'id' | 'role'>): Promise<number[] | null> {
  if (user.role === 'admin') return null;
  const rows = await db
    .select({ id: projectMembers.projectId })
    .from(projectMembers)
    .where(and(eq(projectMembers.userId, user.id), eq(projectMembers.role, 'admin')));
  return rows.map((r) => r.id);
}

/** Throws NOT_FOUND (outsiders learn nothing) unless every project of the version is allowed. */
export async function requireVersionAccess(db: TDb, allowed: number[] | null, versionId: number): Promise<void> {
  if (allowed === null) return;
  const projectIds = await versionProjectIds(db, versionId);
  if (projectIds.length === 0 || projectIds.some((id) => !allowed.includes(id))) {
    throw new AppError('NOT_FOUND', `no dataset version ${versionId}`, { field: 'version' });
  }
}

/** Throws unless every project id is allowed (building from a project needs its admin role). */
export function requireProjectsAllowed(allowed: number[] | null, projectIds: number[], slugs: string[]): void {
  if (allowed === null) return;
  const denied = projectIds.findIndex((id) => !allowed.includes(id));
  if (denied >= 0) throw new AppError('NOT_FOUND', `no project with slug ${slugs[denied]}`, { field: 'projects' });
}
