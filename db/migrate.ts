import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { createDb } from './client';

export const migrationsFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

/** Applies every pending migration from migrations/ (idempotent; drizzle records what ran). */
export async function migrateDatabase(url: string): Promise<void> {
  const handle = createDb(url, { max: 1, applicationName: 'pairwise-migrate' });
  try {
    await migrate(handle.db, { migrationsFolder });
  } finally {
    await handle.close();
  }
}
