import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { AppError } from '../errors';

/** The user that judgments imported with their labels (TRL, HH-RLHF) belong to. */
export const IMPORT_USER_EMAIL = 'imported-labels@pairwise.invalid';
export const IMPORT_USER_NAME = 'Imported labels';

/**
 * Its stored password hash: not a PHC string, so argon2 verification of any password against
 * it fails (verifyPassword returns false), and nobody can sign in as this user.
 */
export const NO_SIGN_IN_HASH = '!no-sign-in: imported labels';

/**
 * The id of the import user, created on first use (once per installation). Refuses to use an
 * account with the same address that somebody could sign in to.
 */
export async function ensureImportUser(db: TDb): Promise<number> {
  await db.execute(sql`
    insert into users (email, name, password_hash, role) values (${IMPORT_USER_EMAIL}, ${IMPORT_USER_NAME}, ${NO_SIGN_IN_HASH}, 'annotator')
    on conflict (email) do nothing`);
  const [row] = await db.execute<{ id: string; password_hash: string }>(sql`select id, password_hash from users where email = ${IMPORT_USER_EMAIL}`);
  if (!row || row.password_hash !== NO_SIGN_IN_HASH) {
    throw new AppError('CONFLICT', `${IMPORT_USER_EMAIL} is an account somebody can sign in to; imported labels need that address for themselves`);
  }
  return Number(row.id);
}
