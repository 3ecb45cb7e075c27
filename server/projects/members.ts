import { and, eq } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { projectMembers } from '@/db/schema';
import { AppError } from '../errors';
import type { TRole } from '../users/schemas';

/**
 * Removes a user from a project; they lose access on their next request (access is checked
 * per request). A project keeps at least one admin member unless a platform admin removes
 * the last one (platform admins administer every project anyway).
 */
export async function removeMember(db: TDb, input: { projectId: number; userId: number; email: string; byPlatformAdmin: boolean }): Promise<void> {
  await db.transaction(async (tx) => {
    // Locks the project's members, so that two admins removing each other cannot both succeed.
    const members = await tx
      .select({ userId: projectMembers.userId, role: projectMembers.role })
      .from(projectMembers)
      .where(eq(projectMembers.projectId, input.projectId))
      .for('update');
    const target = members.find((m) => m.userId === input.userId);
    if (!target) throw new AppError('NOT_FOUND', `${input.email} is not a member of this project`, { field: 'email' });
    const otherAdmins = members.filter((m) => m.role === 'admin' && m.userId !== input.userId);
    if (target.role === 'admin' && otherAdmins.length === 0 && !input.byPlatformAdmin) {
      throw new AppError('CONFLICT', `${input.email} is the project's last admin: make another member admin first`, { field: 'email' });
    }
    await tx.delete(projectMembers).where(and(eq(projectMembers.projectId, input.projectId), eq(projectMembers.userId, input.userId)));
  });
}

/**
 * Adds a member or changes their role, with the same guard as removal: a project admin cannot
 * demote the project's last admin (themselves included) and leave it without one.
 */
export async function setMemberRole(db: TDb, input: { projectId: number; userId: number; email: string; role: TRole; byPlatformAdmin: boolean }): Promise<void> {
  await db.transaction(async (tx) => {
    const members = await tx
      .select({ userId: projectMembers.userId, role: projectMembers.role })
      .from(projectMembers)
      .where(eq(projectMembers.projectId, input.projectId))
      .for('update');
    const target = members.find((m) => m.userId === input.userId);
    const otherAdmins = members.filter((m) => m.role === 'admin' && m.userId !== input.userId);
    if (target?.role === 'admin' && input.role !== 'admin' && otherAdmins.length === 0 && !input.byPlatformAdmin) {
      throw new AppError('CONFLICT', `${input.email} is the project's last admin: make another member admin first`, { field: 'role' });
    }
    await tx
      .insert(projectMembers)
      .values({ projectId: input.projectId, userId: input.userId, role: input.role })
      .onConflictDoUpdate({ target: [projectMembers.projectId, projectMembers.userId], set: { role: input.role } });
  });
}
