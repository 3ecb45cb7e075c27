import { drizzle, type PostgresJsDatabase, type PostgresJsQueryResultHKT } from 'drizzle-orm/postgres-js';
import type { PgDatabase } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import * as schema from './schema';

export type TSchema = typeof schema;
/** What services take: the database or a transaction on it. */
export type TDb = PgDatabase<PostgresJsQueryResultHKT, TSchema>;
export type TRootDb = PostgresJsDatabase<TSchema> & { $client: postgres.Sql };

export interface TDbHandle {
  db: TRootDb;
  /** The raw postgres.js client, for cursors and COPY that drizzle does not expose. */
  sql: postgres.Sql;
  close(): Promise<void>;
}

export function createDb(url: string, options: { max?: number; applicationName?: string } = {}): TDbHandle {
  const sql = postgres(url, {
    max: options.max ?? 10,
    // Notices (e.g. "relation already exists, skipping") are noise for an application.
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'pairwise' },
  });
  const db = drizzle(sql, { schema, casing: 'snake_case' }) as TRootDb;
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}

const globalForDb = globalThis as unknown as { pairwiseDb?: TDbHandle };

/**
 * The process-wide pool for the web app and the worker, from DATABASE_URL.
 * Kept on globalThis so Next.js dev reloads do not open a new pool each time.
 */
export function getDb(): TDbHandle {
  if (!globalForDb.pairwiseDb) {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('DATABASE_URL is not set: start Pairwise with `npm start`, which provides one.');
    globalForDb.pairwiseDb = createDb(url, { applicationName: process.env.PAIRWISE_PROCESS ?? 'pairwise' });
  }
  return globalForDb.pairwiseDb;
}
