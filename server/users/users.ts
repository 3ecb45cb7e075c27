import { eq } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { users } from '@/db/schema';
import { hashPassword, verifyPassword } from '../auth/passwords';
import { AppError } from '../errors';
import { parseInput } from '../validation';
import { ZCreateUser, ZEmail, type TCreateUser, type TSessionUser } from './schemas';

export async function createUser(db: TDb, input: TCreateUser): Promise<TSessionUser> {
  const data = parseInput(ZCreateUser, input);
  const passwordHash = await hashPassword(data.password);
  const [row] = await db
    .insert(users)
    .values({ email: data.email, name: data.name, passwordHash, role: data.role })
    .onConflictDoNothing({ target: users.email })
    .returning({ id: users.id, email: users.email, role: users.role });
  if (!row) throw new AppError('CONFLICT', `a user with email ${data.email} already exists`, { field: 'email' });
  return row;
}

export async function findUserByEmail(db: TDb, email: string): Promise<TSessionUser | null> {
  const parsed = ZEmail.safeParse(email);
  if (!parsed.success) return null;
  const [row] = await db
    .select({ id: users.id, email: users.email, role: users.role })
    .from(users)
    .where(eq(users.email, parsed.data));
  return row ?? null;
}

export async function requireUserByEmail(db: TDb, email: string): Promise<TSessionUser> {
  const user = await findUserByEmail(db, email);
  if (!user) throw new AppError('NOT_FOUND', `no user with email ${email}`, { field: 'email' });
  return user;
}

let dummy: Promise<string> | undefined;
function dummyHash(): Promise<string> {
  return (dummy ??= hashPassword('not-a-real-password-just-for-timing'));
}

/** The account an email and password belong to, disabled or not; null when either is wrong. */
export async function checkPassword(db: TDb, email: string, password: string): Promise<{ user: TSessionUser; disabled: boolean } | null> {
  const parsed = ZEmail.safeParse(email);
  if (!parsed.success || !password) return null;
  const [row] = await db.select().from(users).where(eq(users.email, parsed.data));
  // Hash even for unknown emails, so response times do not reveal which accounts exist.
  const valid = await verifyPassword(row?.passwordHash ?? (await dummyHash()), password);
  if (!row || !valid) return null;
  return { user: { id: row.id, email: row.email, role: row.role }, disabled: row.disabledAt !== null };
}

/** The user for an email and password, or null: callers must not tell which of the two was wrong. Disabled accounts are null too. */
export async function verifyCredentials(db: TDb, email: string, password: string): Promise<TSessionUser | null> {
  const checked = await checkPassword(db, email, password);
  return checked && !checked.disabled ? checked.user : null;
}

export async function getUserById(db: TDb, id: number): Promise<TSessionUser | null> {
  const [row] = await db.select({ id: users.id, email: users.email, role: users.role }).from(users).where(eq(users.id, id));
  return row ?? null;
}

/** The oldest platform admin: who the CLI acts as where an author is recorded. */
export async function firstPlatformAdmin(db: TDb): Promise<TSessionUser | null> {
  const [row] = await db.select({ id: users.id, email: users.email, role: users.role }).from(users).where(eq(users.role, 'admin')).orderBy(users.id).limit(1);
  return row ?? null;
}
