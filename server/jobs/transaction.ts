import { drizzle } from 'drizzle-orm/postgres-js';
import type postgres from 'postgres';
import type { TDbHandle, TRootDb } from '@/db/client';
import * as schema from '@/db/schema';

/** One transaction helper: drizzle and pg-boss in the same postgres.js transaction, so a row and the job that follows it commit together. */

export type TTx = postgres.TransactionSql;

/**
 * Drizzle over a postgres.js transaction, so that rows and pg-boss jobs commit together. The
 * transaction object has no `options`; drizzle reads the type parsers from there, which are the
 * pool's (already set up by the pool's own drizzle instance).
 */
export function txDb(sql: postgres.Sql, tx: TTx): TRootDb {
  const client = Object.assign(tx, { options: sql.options }) as unknown as postgres.Sql;
  return drizzle(client, { schema, casing: 'snake_case' }) as unknown as TRootDb;
}

export async function inTx<T>(handle: TDbHandle, fn: (db: TRootDb, tx: TTx) => Promise<T>): Promise<T> {
  return (await handle.sql.begin((tx) => fn(txDb(handle.sql, tx), tx))) as T;
}
