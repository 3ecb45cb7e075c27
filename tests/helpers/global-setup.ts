import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type TEmbeddedServer } from '@/db/embedded';
import { migrationsFolder } from '@/db/migrate';
import { prepareDatabase } from '@/server/setup/installation';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL on the test server (any database). */
    testServerUrl: string;
    /** A migrated database that each test file copies (CREATE DATABASE ... TEMPLATE). */
    templateDatabase: string;
  }
}

/** Same migrations, same template: re-runs skip the migration step. */
function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const file of fs.readdirSync(migrationsFolder).sort()) {
    if (file.endsWith('.sql')) hash.update(fs.readFileSync(path.join(migrationsFolder, file)));
  }
  return hash.digest('hex').slice(0, 12);
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

let embedded: TEmbeddedServer | null = null;

/**
 * A real PostgreSQL for the tests: TEST_DATABASE_URL when set, else an embedded server in a
 * temporary folder. One migrated template database; each test file clones it.
 */
export default async function setup(project: TestProject) {
  let serverUrl = process.env.TEST_DATABASE_URL;
  let tempDir: string | null = null;
  if (!serverUrl) {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-test-pg-'));
    fs.chmodSync(tempDir, 0o755);
    embedded = await startEmbeddedPostgres({ dataDir: path.join(tempDir, 'postgres'), password: 'test' });
    serverUrl = embedded.url;
  }
  const template = `pairwise_template_${migrationsHash()}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${template}`;
    if (!exists) {
      // Built under a temporary name and renamed, so a crash never leaves a half-migrated template.
      const building = `${template}_building_${process.pid}`;
      await admin.unsafe(`drop database if exists ${building}`);
      await admin.unsafe(`create database ${building}`);
      await prepareDatabase(withDatabase(serverUrl, building));
      await admin.unsafe(`alter database ${building} rename to ${template}`);
    }
  } finally {
    await admin.end();
  }
  project.provide('testServerUrl', serverUrl);
  project.provide('templateDatabase', template);

  return async () => {
    await embedded?.stop();
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  };
}
