import { drizzle, type PostgresJsDatabase, type PostgresJsQueryResultHKT } from 'drizzle-orm/postgres-js';
import type { PgDatabase } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { guardDriverCrashes } from './availability';
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

/** Seconds to wait for a connection before a query fails: a refused one fails at once, this bounds an unanswered one. */
export const CONNECT_TIMEOUT_SECONDS = 5;

export function createDb(url: string, options: { max?: number; applicationName?: string } = {}): TDbHandle {
  const sql = postgres(url, {
    max: options.max ?? 10,
    // With the database away, a request fails within seconds (a 503) instead of waiting 30 s to connect.
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    // Connections left from before a database restart are dropped instead of failing a later query.
    idle_timeout: 60,
    // postgres.js waits up to 20 s (3^failures / 100 s) before reconnecting after failed attempts,
    // and queries wait with it: requests hung for 25 s while the database was away. Retry within a second.
    backoff: (retries: number) => Math.min(0.1 * retries, 0.5),
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
    // A long-running process must outlive its database's restarts.
    guardDriverCrashes();
    globalForDb.pairwiseDb = createDb(url, { applicationName: process.env.PAIRWISE_PROCESS ?? 'pairwise' });
  }
  return globalForDb.pairwiseDb;
}
