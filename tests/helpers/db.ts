import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDb, type TDbHandle } from '@/db/client';

export function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TTestDatabase {
  url: string;
  name: string;
  handle: TDbHandle;
}

/** A fresh database, cloned from the migrated template, for this test file alone. */
export async function createTestDatabase(): Promise<TTestDatabase & { drop(): Promise<void> }> {
  const serverUrl = inject('testServerUrl');
  const name = `pairwise_test_${randomBytes(5).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name} template ${inject('templateDatabase')}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(serverUrl, name);
  const handle = createDb(url, { max: 12, applicationName: 'pairwise-test' });
  return {
    url,
    name,
    handle,
    async drop() {
      await handle.close();
      const a = postgres(serverUrl, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** Registers a fresh database for the current test file; read `.current` inside tests. */
export function setupTestDatabase(): { current: TTestDatabase } {
  const ref = {} as { current: TTestDatabase };
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const created = await createTestDatabase();
    ref.current = created;
    drop = created.drop;
  });
  afterAll(async () => {
    await drop?.();
  });
  return ref;
}
