import { and, asc, desc, eq, inArray, isNull, or, sql as dsql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { apiTokenProjects, apiTokens, projectMembers, projects, users } from '@/db/schema';
import { PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { AppError } from '../errors';
import type { TSessionUser } from '../users/schemas';
import { parseInput } from '../validation';
import { ZCreateApiToken, type TApiTokenAccess, type TApiTokenStatus, type TCreateApiToken } from './schemas';
import { generateTokenSecret, hashTokenSecret, invalidToken, parseBearerToken, tokenDisplayPrefix } from './secret';

/** A token as admins see it: never the secret, which only exists in the creator's hands. */
export interface TApiTokenSummary {
  id: number;
  name: string;
  prefix: string;
  access: TApiTokenAccess;
  projects: { id: number; slug: string; name: string }[];
  createdBy: { id: number; email: string };
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  status: TApiTokenStatus;
}

/** Who a request with a valid token acts as, and what it may reach. */
export interface TApiPrincipal {
  tokenId: number;
  /** The token's creator: the token acts with their rights. */
  userId: number;
  access: TApiTokenAccess;
  /**
   * The projects the token may reach now: its scope, less the projects its creator no longer
   * administers (a creator who lost the admin role takes the token's access with them).
   */
  projectIds: number[];
}

/** last_used_at is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

function tokenStatus(row: { revokedAt: Date | null; expiresAt: Date | null }, now = new Date()): TApiTokenStatus {
  if (row.revokedAt) return 'revoked';
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

/**
 * Creates a token for `creator`, scoped to projects they administer (platform admins: any).
 * Returns the secret once; only its sha256 is stored, so it can never be shown again.
 */
export async function createApiToken(db: TDb, creator: TSessionUser, input: TCreateApiToken): Promise<{ token: TApiTokenSummary; secret: string }> {
  const data = parseInput(ZCreateApiToken, input);
  const expiresAt = data.expiresAt ? new Date(data.expiresAt) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) throw new AppError('BAD_REQUEST', 'expiresAt: the expiry must be in the future', { field: 'expiresAt' });
  const projectIds: number[] = [];
  for (const slug of [...new Set(data.projects)]) {
    const { project } = await requireProjectAccess(db, creator, slug, PROJECT_ADMIN);
    projectIds.push(project.id);
  }
  const secret = generateTokenSecret();
  const id = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(apiTokens)
      .values({ name: data.name, tokenHash: hashTokenSecret(secret), prefix: tokenDisplayPrefix(secret), access: data.access, createdBy: creator.id, expiresAt })
      .returning({ id: apiTokens.id });
    await tx.insert(apiTokenProjects).values(projectIds.map((projectId) => ({ tokenId: row!.id, projectId })));
    return row!.id;
  });
  const [token] = await listApiTokens(db, { user: null, ids: [id] });
  return { token: token!, secret };
}

/**
 * Tokens newest first, without secrets. `user`: a platform admin sees every token, anyone else
 * the tokens they created; null (the CLI) sees all.
 */
export async function listApiTokens(db: TDb, options: { user: Pick<TSessionUser, 'id' | 'role'> | null; ids?: number[] }): Promise<TApiTokenSummary[]> {
  const conditions = [
    options.user && options.user.role !== 'admin' ? eq(apiTokens.createdBy, options.user.id) : undefined,
    options.ids ? inArray(apiTokens.id, options.ids) : undefined,
  ].filter((c) => c !== undefined);
  const rows = await db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      prefix: apiTokens.prefix,
      access: apiTokens.access,
      createdAt: apiTokens.createdAt,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.lastUsedAt,
      revokedAt: apiTokens.revokedAt,
      creatorId: users.id,
      creatorEmail: users.email,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.createdBy))
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(apiTokens.id));
  if (rows.length === 0) return [];
  const scopes = await db
    .select({ tokenId: apiTokenProjects.tokenId, id: projects.id, slug: projects.slug, name: projects.name })
    .from(apiTokenProjects)
    .innerJoin(projects, eq(projects.id, apiTokenProjects.projectId))
    .where(
      inArray(
        apiTokenProjects.tokenId,
        rows.map((r) => r.id),
      ),
    )
    .orderBy(asc(projects.slug));
  const now = new Date();
  return rows.map(({ creatorId, creatorEmail, ...row }) => ({
    ...row,
    projects: scopes.filter((s) => s.tokenId === row.id).map(({ id, slug, name }) => ({ id, slug, name })),
    createdBy: { id: creatorId, email: creatorEmail },
    status: tokenStatus(row, now),
  }));
}

/**
 * Revokes a token for good. `actor`: its creator or a platform admin (others get NOT_FOUND, as
 * for a token that does not exist); null is the CLI, which may revoke any token.
 * Revoking a revoked token changes nothing.
 */
export async function revokeApiToken(db: TDb, actor: Pick<TSessionUser, 'id' | 'role'> | null, tokenId: number): Promise<TApiTokenSummary> {
  const mayRevoke = actor && actor.role !== 'admin' ? eq(apiTokens.createdBy, actor.id) : undefined;
  const [found] = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.id, tokenId), mayRevoke));
  if (!found) throw new AppError('NOT_FOUND', `no API token ${tokenId}`, { field: 'id' });
  await db
    .update(apiTokens)
    .set({ revokedAt: dsql`now()` })
    .where(and(eq(apiTokens.id, tokenId), isNull(apiTokens.revokedAt)));
  const [token] = await listApiTokens(db, { user: null, ids: [tokenId] });
  return token!;
}

/**
 * Checks an Authorization header and returns who the request acts as. Unknown, revoked and
 * expired tokens are UNAUTHORIZED.
 *
 * The secret is found by the sha256 of what was presented, through a unique index: no stored
 * secret is ever compared with the input, so there is no comparison whose timing could leak
 * it, and a constant-time compare would protect nothing. Timing can at most hint at whether
 * some hash exists, and finding a preimage of a 256-bit random secret's hash is infeasible.
 */
export async function authenticateApiToken(db: TDb, authorization: string | null | undefined): Promise<TApiPrincipal> {
  const secret = parseBearerToken(authorization);
  const [token] = await db
    .select({
      id: apiTokens.id,
      access: apiTokens.access,
      createdBy: apiTokens.createdBy,
      expiresAt: apiTokens.expiresAt,
      revokedAt: apiTokens.revokedAt,
      lastUsedAt: apiTokens.lastUsedAt,
      creatorRole: users.role,
      creatorDisabledAt: users.disabledAt,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.createdBy))
    .where(eq(apiTokens.tokenHash, hashTokenSecret(secret)));
  if (!token) throw invalidToken();
  const status = tokenStatus(token);
  if (status === 'revoked') throw new AppError('UNAUTHORIZED', 'this API token was revoked', { field: 'authorization' });
  if (status === 'expired') throw new AppError('UNAUTHORIZED', 'this API token has expired', { field: 'authorization' });
  // A token acts for its creator: it never outlives their account being disabled.
  if (token.creatorDisabledAt) throw new AppError('UNAUTHORIZED', 'the user this API token acts for is disabled', { field: 'authorization' });

  const scope = await db
    .select({ id: apiTokenProjects.projectId })
    .from(apiTokenProjects)
    .leftJoin(projectMembers, and(eq(projectMembers.projectId, apiTokenProjects.projectId), eq(projectMembers.userId, token.createdBy)))
    .where(and(eq(apiTokenProjects.tokenId, token.id), token.creatorRole === 'admin' ? undefined : eq(projectMembers.role, 'admin')));

  if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    // Conditional, so that concurrent requests of one token write at most once a minute too.
    await db
      .update(apiTokens)
      .set({ lastUsedAt: dsql`now()` })
      .where(
        and(
          eq(apiTokens.id, token.id),
          or(isNull(apiTokens.lastUsedAt), dsql`${apiTokens.lastUsedAt} < now() - make_interval(secs => ${LAST_USED_RESOLUTION_MS / 1000})`),
        ),
      );
  }
  return { tokenId: token.id, userId: token.createdBy, access: token.access, projectIds: scope.map((s) => s.id).sort((a, b) => a - b) };
}
