import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** What a production build depends on: when none of it changed, the existing build is reused. */
const INPUTS = ['app', 'server', 'db', 'package-lock.json', 'next.config.mjs', 'postcss.config.mjs', 'tsconfig.json'];
const SKIP = new Set(['node_modules', '.next', '.data', 'seed']);

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
  for (const input of INPUTS) {
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
