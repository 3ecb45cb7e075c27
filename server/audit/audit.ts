import { createHash } from 'node:crypto';
import os from 'node:os';
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { auditEvents, projects, users } from '@/db/schema';
import { AppError } from '../errors';
import type { TSessionUser } from '../users/schemas';

/** Who made a change, and through which door. */
export type TAuditActor = { user: Pick<TSessionUser, 'id' | 'email'>; via: 'web' | 'api' } | { via: 'cli'; osUser?: string };

export interface TAuditEntry {
  action: string;
  projectId?: number | null;
  target?: string | null;
  before?: unknown;
  after?: unknown;
}

/** One recorded change, with its project's slug (null once the project is gone). */
export type TAuditEvent = typeof auditEvents.$inferSelect & { project: string | null };

/** Keys whose values never reach the log: passwords, token secrets and hashes, API keys. */
const SECRET_KEY = /password|secret|tokenhash|^token$|apikey$|authorization|credential/i;
/** A bigger before/after (a long guidelines text) is kept as its size and hash. */
const MAX_VALUE_BYTES = 64 * 1024;

/** `value` as stored: secrets replaced, Dates as ISO strings, big values summarised. */
export function auditValue(value: unknown): unknown {
  if (value === undefined) return null;
  const redacted = JSON.parse(
    JSON.stringify(value, (key, v: unknown) => (key && SECRET_KEY.test(key) && v !== null && v !== undefined && v !== false ? '[redacted]' : v)) ?? 'null',
  ) as unknown;
  const text = JSON.stringify(redacted);
  if (Buffer.byteLength(text) <= MAX_VALUE_BYTES) return redacted;
  return { truncated: true, bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
}

function actorColumns(actor: TAuditActor) {
  if (actor.via === 'cli') return { actorUserId: null, actor: `cli:${actor.osUser ?? safeOsUser()}`, via: 'cli' };
  return { actorUserId: actor.user.id, actor: actor.user.email, via: actor.via };
}

function safeOsUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Appends one event; pass the transaction that made the change, so both land or neither. */
export async function recordAudit(db: TDb, actor: TAuditActor, entry: TAuditEntry): Promise<void> {
  await db.insert(auditEvents).values({
    ...actorColumns(actor),
    action: entry.action,
    projectId: entry.projectId ?? null,
    target: entry.target ?? null,
    before: auditValue(entry.before),
    after: auditValue(entry.after),
  });
}

/** The id of the project a slug names, or null. */
export async function projectIdOf(db: TDb, slug: string): Promise<number | null> {
  const [row] = await db.select({ id: projects.id }).from(projects).where(eq(projects.slug, slug));
  return row?.id ?? null;
}

/** A short label of what an input names (the first of its identifying fields), for the log's list view. */
export function auditTarget(input: Record<string, unknown>): string | null {
  for (const key of ['email', 'userId', 'id', 'round', 'version', 'comparisonId', 'name', 'slug']) {
    const value = input[key];
    if (typeof value === 'string' || typeof value === 'number') return `${key} ${String(value).slice(0, 200)}`;
  }
  return null;
}

export interface TAuditQuery {
  /** Keyset paging: only events with a smaller id (pass the previous page's `nextBefore`). */
  before?: number;
  limit: number;
  action?: string;
  projectId?: number;
  actorUserId?: number;
}

/** Filters as people give them (a project slug, an actor's email) as ids; an unknown one is a 404 naming it. */
export async function resolveAuditFilters(db: TDb, given: { action?: string; project?: string; actor?: string }): Promise<Omit<TAuditQuery, 'limit' | 'before'>> {
  const out: Omit<TAuditQuery, 'limit' | 'before'> = { action: given.action };
  if (given.project) {
    const [row] = await db.select({ id: projects.id }).from(projects).where(eq(projects.slug, given.project));
    if (!row) throw new AppError('NOT_FOUND', `no project with slug ${given.project}`, { field: 'project' });
    out.projectId = row.id;
  }
  if (given.actor) {
    const [row] = await db.select({ id: users.id }).from(users).where(eq(users.email, given.actor.trim().toLowerCase()));
    if (!row) throw new AppError('NOT_FOUND', `no user with email ${given.actor}`, { field: 'actor' });
    out.actorUserId = row.id;
  }
  return out;
}

function filters(query: Omit<TAuditQuery, 'limit'>): SQL | undefined {
  const where: SQL[] = [];
  if (query.before) where.push(lt(auditEvents.id, query.before));
  if (query.action) where.push(eq(auditEvents.action, query.action));
  if (query.projectId) where.push(eq(auditEvents.projectId, query.projectId));
  if (query.actorUserId) where.push(eq(auditEvents.actorUserId, query.actorUserId));
  return where.length ? and(...where) : undefined;
}

/** Newest first, one page. */
export async function listAuditEvents(db: TDb, query: TAuditQuery): Promise<{ events: TAuditEvent[]; nextBefore: number | null }> {
  const rows = await db
    .select({ event: auditEvents, project: projects.slug })
    .from(auditEvents)
    .leftJoin(projects, eq(projects.id, auditEvents.projectId))
    .where(filters(query))
    .orderBy(desc(auditEvents.id))
    .limit(query.limit);
  const events = rows.map(({ event, project }) => ({ ...event, project }));
  return { events, nextBefore: events.length === query.limit ? events[events.length - 1]!.id : null };
}

/** Every matching event, newest first, in pages: the export never holds the whole log. */
export async function* auditEventPages(db: TDb, query: Omit<TAuditQuery, 'limit' | 'before'>, pageSize = 1000): AsyncGenerator<TAuditEvent[]> {
  let before: number | undefined;
  for (;;) {
    const page = await listAuditEvents(db, { ...query, before, limit: pageSize });
    if (page.events.length) yield page.events;
    if (page.nextBefore === null) return;
    before = page.nextBefore;
  }
}

/** One event as a line of the JSONL export. */
export function auditEventLine(event: TAuditEvent): string {
  return `${JSON.stringify({ ...event, at: event.at.toISOString() })}\n`;
}
