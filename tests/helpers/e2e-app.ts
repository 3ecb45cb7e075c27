import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import postgres from 'postgres';
import { expect, inject } from 'vitest';
import { startEmbeddedPostgres } from '@/db/embedded';
import { loadSecrets } from '@/server/setup/installation';
import { runCli, type TCliResult } from './cli';

/** Helpers for browser tests against the app that tests/e2e/app-setup.ts started. */
export const appUrl = () => inject('appUrl');

/** The app's database: the one the setup created, or the embedded server the app runs (reused, never stopped here). */
export async function appDatabase(): Promise<postgres.Sql> {
  const configured = inject('appDatabaseUrl');
  if (configured) return postgres(configured, { max: 1, onnotice: () => {} });
  const dataDir = inject('appDataDir');
  const { postgresPassword } = await loadSecrets(dataDir);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), password: postgresPassword });
  if (!server.reused) {
    await server.stop();
    throw new Error('the app’s embedded PostgreSQL is not running');
  }
  return postgres(server.url, { max: 1, onnotice: () => {} });
}

export function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PAIRWISE_DATA_DIR: inject('appDataDir') };
  const databaseUrl = inject('appDatabaseUrl');
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  else delete env.DATABASE_URL;
  return env;
}

/** Runs the CLI against the app's database and fails the test on a non-zero exit. */
export async function cli(args: string[], stdin?: string): Promise<TCliResult> {
  const result = await runCli(args, { env: cliEnv(), stdin });
  expect(result.code, `cli ${args.join(' ')}:\n${result.stderr}`).toBe(0);
  return result;
}

export interface TAccount {
  role: string;
  email: string;
  password: string;
}

export function demoAccounts(): TAccount[] {
  const file = path.join(inject('appDataDir'), 'demo-credentials.txt');
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [role, email, password] = line.split(' ');
      return { role: role!, email: email!, password: password! };
    });
}

export async function signIn(page: Page, account: TAccount) {
  await page.goto(`${appUrl()}/signin`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/projects$/);
}

export async function signOut(page: Page) {
  await page.goto(`${appUrl()}/signout`);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(/\/signin/);
}

/** Creates a project with the given CLI flags, makes every demo account a member, imports the lines. */
export async function projectWith(slug: string, flags: string[], lines: object[]): Promise<void> {
  await cli(['project', 'create', '--slug', slug, '--name', slug, ...flags]);
  for (const account of demoAccounts()) await cli(['member', 'add', '--project', slug, '--email', account.email, '--role', account.role]);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-e2e-')), `${slug}.jsonl`);
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  await cli(['import', '--project', slug, file]);
}

export async function exportLines<T = Record<string, unknown>>(slug: string): Promise<T[]> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-e2e-')), `${slug}.jsonl`);
  await cli(['export', '--project', slug, '--format', 'trl', '--out', out]);
  const text = fs.readFileSync(out, 'utf8').trim();
  return text ? text.split('\n').map((l) => JSON.parse(l) as T) : [];
}

/** Screenshots for people to look at after a run (tests/.artifacts, not committed). */
export function artifact(name: string): string {
  const dir = path.join(import.meta.dirname, '..', '.artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
