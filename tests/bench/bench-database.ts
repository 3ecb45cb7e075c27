import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { createDb, type TDbHandle } from '@/db/client';
import { startEmbeddedPostgres } from '@/db/embedded';
import { prepareDatabase } from '@/server/setup/installation';

/** A fresh, migrated database for one benchmark run; dropped (and the server stopped) by close(). */
export async function benchDatabase(): Promise<{ url: string; handle: TDbHandle; close(): Promise<void> }> {
  let serverUrl = process.env.TEST_DATABASE_URL;
  let stopServer = async () => {};
  if (!serverUrl) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-bench-'));
    fs.chmodSync(dir, 0o755);
    const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'postgres'), password: 'bench' });
    serverUrl = server.url;
    stopServer = async () => {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  }
  const name = `pairwise_bench_${Date.now()}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  await prepareDatabase(url);
  const handle = createDb(url, { max: 16, applicationName: 'pairwise-bench' });
  return {
    url,
    handle,
    async close() {
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
      await stopServer();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const round = (n: number, digits = 1) => Number(n.toFixed(digits));
