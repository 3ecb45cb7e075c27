import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startEmbeddedPostgres, type TEmbeddedServer } from '@/db/embedded';
import { migrateDatabase } from '@/db/migrate';
import { createBoss, ensureQueues } from '../jobs/queue';

/**
 * The local installation: secrets kept in the data folder, and the database, either the
 * one DATABASE_URL names or the embedded server under <data>/postgres.
 */

interface TSecrets {
  authSecret: string;
  postgresPassword: string;
}

/** Generated once and kept (mode 600) so sessions and the embedded database survive restarts. */
export async function loadSecrets(dataDir: string): Promise<TSecrets> {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(await fs.readFile(file, 'utf8')) as TSecrets;
  const secrets: TSecrets = { authSecret: randomBytes(32).toString('base64url'), postgresPassword: randomBytes(18).toString('base64url') };
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return secrets;
}

export interface TDatabaseLease {
  url: string;
  embedded: boolean;
  /** True when this process started the embedded server (and so must stop it). */
  owned: boolean;
  stop(): Promise<void>;
  /** The embedded server this process started: told when it dies, and able to start it again. */
  server?: Pick<TEmbeddedServer, 'onExit' | 'restart'>;
}

export async function resolveDatabase(dataDir: string, log: (line: string) => void = () => {}): Promise<TDatabaseLease> {
  const configured = process.env.DATABASE_URL;
  if (configured) return { url: configured, embedded: false, owned: false, stop: async () => {} };
  const secrets = await loadSecrets(dataDir);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), password: secrets.postgresPassword, log });
  return { url: server.url, embedded: true, owned: !server.reused, stop: server.stop, server: server.reused ? undefined : server };
}

/** Schema migrations and the job queue's tables and queues: everything a fresh database needs. */
export async function prepareDatabase(url: string): Promise<void> {
  await migrateDatabase(url);
  const boss = createBoss(url, 'admin');
  boss.on('error', () => {});
  await boss.start();
  try {
    await ensureQueues(boss);
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}
