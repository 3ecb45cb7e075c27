import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { comparisons, judgments, projectMembers, projects, users } from '@/db/schema';
import { AppError } from '../errors';
import { parseInput } from '../validation';
import { ZAddMember, ZCreateProject, ZUpdateProject, type TAddMember, type TCreateProject, type TUpdateProject } from './schemas';

export type TProject = typeof projects.$inferSelect;

export async function createProject(db: TDb, input: TCreateProject): Promise<TProject> {
  const data = parseInput(ZCreateProject, input);
  const [row] = await db.insert(projects).values(data).onConflictDoNothing({ target: projects.slug }).returning();
  if (!row) throw new AppError('CONFLICT', `a project with slug ${data.slug} already exists`, { field: 'slug' });
  return row;
}

/**
 * Changes a project's settings. A new judgments-required applies to every comparison of the
 * project: raising it reopens finished ones for more judgments (for agreement), lowering it
 * never goes below the judgments a comparison already has.
 */
export async function updateProject(db: TDb, projectId: number, input: TUpdateProject): Promise<TProject> {
  const data = parseInput(ZUpdateProject, input);
  if (Object.keys(data).length === 0) {
    const [current] = await db.select().from(projects).where(eq(projects.id, projectId));
    if (!current) throw new AppError('NOT_FOUND', 'no such project');
    return current;
  }
  return db.transaction(async (tx) => {
    const [row] = await tx.update(projects).set(data).where(eq(projects.id, projectId)).returning();
    if (!row) throw new AppError('NOT_FOUND', 'no such project');
    if (data.judgmentsRequired !== undefined) {
      await tx.execute(sql`update comparisons set judgments_required = greatest(${data.judgmentsRequired}::int, judgment_count, 1)
        where project_id = ${projectId}`);
    }
    return row;
  });
}

export async function findProjectBySlug(db: TDb, slug: string): Promise<TProject | null> {
  const [row] = await db.select().from(projects).where(eq(projects.slug, slug));
  return row ?? null;
}

export async function requireProjectBySlug(db: TDb, slug: string): Promise<TProject> {
  const project = await findProjectBySlug(db, slug);
  if (!project) throw new AppError('NOT_FOUND', `no project with slug ${slug}`, { field: 'project' });
  return project;
}

/** Adds a member, or changes the role of an existing one. */
export async function addMember(db: TDb, input: TAddMember): Promise<void> {
  const data = parseInput(ZAddMember, input);
  await db
    .insert(projectMembers)
    .values(data)
    .onConflictDoUpdate({ target: [projectMembers.projectId, projectMembers.userId], set: { role: data.role } });
}

export async function listMembers(db: TDb, projectId: number) {
  return db
    .select({ userId: users.id, email: users.email, role: projectMembers.role })
    .from(projectMembers)
    .innerJoin(users, eq(users.id, projectMembers.userId))
    .where(eq(projectMembers.projectId, projectId))
    .orderBy(asc(users.email));
}

/** Projects a user can see: all of them for platform admins, their memberships otherwise. */
export async function listProjectsForUser(db: TDb, user: { id: number; role: string }) {
  const base = db
    .select({
      id: projects.id,
      slug: projects.slug,
      name: projects.name,
      description: projects.description,
      role: sql<string>`coalesce(${projectMembers.role}::text, 'admin')`,
    })
    .from(projects)
    .leftJoin(projectMembers, and(eq(projectMembers.projectId, projects.id), eq(projectMembers.userId, user.id)));
  const rows = user.role === 'admin' ? await base.orderBy(asc(projects.name)) : await base.where(eq(projectMembers.userId, user.id)).orderBy(asc(projects.name));
  return rows;
}

export async function getProjectCounts(db: TDb, projectId: number) {
  const [comparisonRow] = await db
    .select({
      comparisons: count(),
      complete: sql<number>`count(*) filter (where ${comparisons.judgmentCount} >= ${comparisons.judgmentsRequired})::int`,
      judgmentsRequired: sql<number>`coalesce(sum(${comparisons.judgmentsRequired}), 0)::int`,
    })
    .from(comparisons)
    .where(eq(comparisons.projectId, projectId));
  const [judgmentRow] = await db.select({ judgments: count() }).from(judgments).where(eq(judgments.projectId, projectId));
  return {
    comparisons: comparisonRow?.comparisons ?? 0,
    completeComparisons: comparisonRow?.complete ?? 0,
    judgmentsRequired: comparisonRow?.judgmentsRequired ?? 0,
    judgments: judgmentRow?.judgments ?? 0,
  };
}
