import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** What a production build depends on: when none of it changed, the existing build is reused. */
const INPUTS = ['app', 'server', 'db'];
const SKIP = new Set(['node_modules', '.next', '.data', 'seed']);
/**
 * Files at the top of the checkout count too: Next.js picks up root files by name (proxy.ts,
 * instrumentation.ts, next.config.mjs, tsconfig.json, .env files), and a new one must rebuild.
 * The lockfile counts (other dependencies, other build); next-env.d.ts is written by the build itself.
 */
const ROOT_FILE = /^(?:[^.].*\.(?:ts|tsx|js|jsx|mjs|cjs|mts|cts|json)|\.env(?:\..+)?)$/;
const ROOT_SKIP = new Set(['next-env.d.ts']);

async function rootFiles(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && ROOT_FILE.test(e.name) && !ROOT_SKIP.has(e.name))
    .map((e) => e.name)
    .sort();
}

async function* files(entry: string): AsyncGenerator<string> {
  const stat = await fs.stat(entry).catch(() => null);
  if (!stat) return;
  if (stat.isFile()) {
    yield entry;
    return;
  }
  const children = (await fs.readdir(entry)).sort();
  for (const child of children) if (!SKIP.has(child)) yield* files(path.join(entry, child));
}

export async function sourceFingerprint(root: string): Promise<string> {
  const hash = createHash('sha256');
  for (const input of [...(await rootFiles(root)), ...INPUTS]) {
    for await (const file of files(path.join(root, input))) {
      hash.update(path.relative(root, file)).update('\0').update(await fs.readFile(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

const stampFile = (root: string) => path.join(root, '.next', 'pairwise-source-fingerprint');

export function buildIsCurrent(root: string, fingerprint: string): boolean {
  return existsSync(path.join(root, '.next', 'BUILD_ID')) && existsSync(stampFile(root)) && readFileSync(stampFile(root), 'utf8') === fingerprint;
}

export async function recordBuild(root: string, fingerprint: string): Promise<void> {
  await fs.writeFile(stampFile(root), fingerprint);
}

/**
 * One build at a time in this checkout: two launchers building into the same .next folder
 * (two terminals, parallel test runs) would corrupt it. The lock is a directory holding the
 * owner's pid; a lock whose owner is gone is taken over.
 */
export async function withBuildLock<T>(root: string, fn: () => Promise<T>, onWait: () => void = () => {}): Promise<T> {
  const lock = path.join(root, '.next-build.lock');
  let waited = false;
  for (;;) {
    try {
      await fs.mkdir(lock);
      await fs.writeFile(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const owner = Number(await fs.readFile(path.join(lock, 'pid'), 'utf8').catch(() => ''));
      let alive = false;
      try {
        if (owner > 0) alive = (process.kill(owner, 0), true);
      } catch {
        alive = false;
      }
      if (!alive && owner > 0) {
        await fs.rm(lock, { recursive: true, force: true });
        continue;
      }
      if (!waited) onWait();
      waited = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}
