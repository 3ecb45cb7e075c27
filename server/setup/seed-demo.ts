import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { count } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { users } from '@/db/schema';
import { importComparisons } from '../imports/import-comparisons';
import { addMember, createProject } from '../projects/projects';
import { createUser } from '../users/users';
import type { TRole } from '../users/schemas';

export const DEMO_PROJECT_SLUG = 'demo';
const demoFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'db', 'seed', 'demo-comparisons.jsonl');

export interface TDemoAccount {
  role: TRole;
  email: string;
  password: string;
}

function randomPassword(): string {
  return randomBytes(12).toString('base64url');
}

/** True when the database has no users yet: the first start of a fresh installation. */
export async function isEmptyInstallation(db: TDb): Promise<boolean> {
  const [row] = await db.select({ n: count() }).from(users);
  return (row?.n ?? 0) === 0;
}

/**
 * Creates the demo project with its comparisons and three demo accounts (one admin, two
 * annotators) with random passwords, and writes the credentials file (mode 600).
 * Runs once: the caller checks isEmptyInstallation first.
 */
export async function seedDemo(db: TDb, credentialsFile: string): Promise<TDemoAccount[]> {
  const accounts: TDemoAccount[] = [
    { role: 'admin', email: 'admin@pairwise.local', password: randomPassword() },
    { role: 'annotator', email: 'annotator1@pairwise.local', password: randomPassword() },
    { role: 'annotator', email: 'annotator2@pairwise.local', password: randomPassword() },
  ];
  await db.transaction(async (tx) => {
    const project = await createProject(tx, {
      slug: DEMO_PROJECT_SLUG,
      name: 'Demo: assistant responses',
      description: 'Compare two assistant responses and say which is better, and by how much.',
      judgmentsRequired: 1,
    });
    for (const account of accounts) {
      const user = await createUser(tx, { email: account.email, password: account.password, role: account.role });
      await addMember(tx, { projectId: project.id, userId: user.id, role: account.role });
    }
    await importComparisons(tx, { projectId: project.id, judgmentsRequired: project.judgmentsRequired, source: createReadStream(demoFile) });
  });
  await fs.mkdir(path.dirname(credentialsFile), { recursive: true });
  await fs.writeFile(credentialsFile, accounts.map((a) => `${a.role} ${a.email} ${a.password}`).join('\n') + '\n', { mode: 0o600 });
  await fs.chmod(credentialsFile, 0o600);
  return accounts;
}
