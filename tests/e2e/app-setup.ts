import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { startApp, type TRunningApp } from '../helpers/app-process';

declare module 'vitest' {
  export interface ProvidedContext {
    appUrl: string;
    appDataDir: string;
    /** The database the app runs on, for CLI calls from the tests. */
    appDatabaseUrl: string | null;
  }
}

let app: TRunningApp | null = null;

/**
 * The whole platform for the browser tests, started by the real launcher with the demo data:
 * on a fresh database of TEST_DATABASE_URL's server when set, else on its own embedded server.
 */
export default async function setup(project: TestProject) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-e2e-'));
  fs.chmodSync(dataDir, 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, PAIRWISE_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  let databaseUrl: string | null = null;
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (serverUrl) {
    const name = `pairwise_e2e_${process.pid}_${Date.now()}`;
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const u = new URL(serverUrl);
    u.pathname = `/${name}`;
    databaseUrl = u.toString();
    env.DATABASE_URL = databaseUrl;
  }
  app = await startApp({ env, args: ['--demo'] });
  project.provide('appUrl', app.baseUrl);
  project.provide('appDataDir', dataDir);
  project.provide('appDatabaseUrl', databaseUrl);

  return async () => {
    const code = await app?.stop();
    // The app's whole output, for reading after a failure (CI keeps the folder).
    const logDir = path.join(import.meta.dirname, '..', '.artifacts');
    fs.mkdirSync(logDir, { recursive: true });
    fs.writeFileSync(path.join(logDir, 'e2e-app.log'), app?.output() ?? '');
    if (code !== 0) console.error(`the app exited with code ${code}:\n${app?.output().slice(-2000)}`);
    if (databaseUrl && serverUrl) {
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${new URL(databaseUrl).pathname.slice(1)} with (force)`);
      await admin.end();
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
