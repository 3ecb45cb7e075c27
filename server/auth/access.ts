import { and, eq } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { projectMembers, projects } from '@/db/schema';
import { AppError } from '../errors';
import type { TRole, TSessionUser } from '../users/schemas';
import type { TProject } from '../projects/projects';

export interface TProjectAccess {
  project: TProject;
  /** The user's effective role in the project; platform admins are admins everywhere. */
  role: TRole;
}

/**
 * Resolves a project for a user and checks their role in it. A project the user is not a
 * member of answers NOT_FOUND, so that outsiders learn nothing, not even that it exists.
 */
export async function requireProjectAccess(
  db: TDb,
  user: TSessionUser,
  projectSlug: string,
  allowed: readonly TRole[],
): Promise<TProjectAccess> {
  const [row] = await db
    .select({ project: projects, memberRole: projectMembers.role })
    .from(projects)
    .leftJoin(projectMembers, and(eq(projectMembers.projectId, projects.id), eq(projectMembers.userId, user.id)))
    .where(eq(projects.slug, projectSlug));
  const role: TRole | null = user.role === 'admin' ? 'admin' : (row?.memberRole ?? null);
  if (!row || !role) throw new AppError('NOT_FOUND', `no project with slug ${projectSlug}`, { field: 'project' });
  if (!allowed.includes(role)) throw new AppError('FORBIDDEN', `this needs the role ${allowed.join(' or ')} in project ${projectSlug}`);
  return { project: row.project, role };
}

export const ANY_MEMBER: readonly TRole[] = ['admin', 'reviewer', 'annotator'];
export const PROJECT_ADMIN: readonly TRole[] = ['admin'];
