import type { TDb } from '@/db/client';
import type { TApiPrincipal } from '../api-tokens/api-tokens';
import { AppError } from '../errors';
import { findProjectBySlug, type TProject } from '../projects/projects';

/**
 * A project the token may reach: in its scope and still administered by its creator. Any other
 * project, existing or not, is a 404 that names the slug (outsiders learn nothing).
 */
export async function requireScopedProject(db: TDb, principal: TApiPrincipal, slug: string): Promise<TProject> {
  const project = await findProjectBySlug(db, slug);
  if (!project || !principal.projectIds.includes(project.id)) throw new AppError('NOT_FOUND', `no project with slug ${slug}`, { field: 'project' });
  return project;
}
