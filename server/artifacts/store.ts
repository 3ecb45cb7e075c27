import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { artifactsDir, env, type TEnv } from '../env';
import { artifactNotFound, assertKey, assertPrefix } from './keys';
import { s3ArtifactStore } from './s3-store';

export interface TArtifactEntry {
  key: string;
  bytes: number;
}

/**
 * Where files (exports, dataset versions, run configs and logs) live: a local folder, or
 * S3-compatible object storage when a bucket is configured (GPU hosts then read from it).
 */
export interface TArtifactStore {
  /** Writes atomically: readers never see a half-written artifact, and a failed write leaves none. Returns the byte size. */
  write(key: string, body: AsyncIterable<string | Buffer>): Promise<{ bytes: number }>;
  /** The artifact's bytes; a missing key is a NOT_FOUND AppError. */
  read(key: string): Promise<Readable>;
  /** Byte size, or null when there is no such artifact. */
  size(key: string): Promise<number | null>;
  /** Every artifact whose key starts with `prefix` ('' for all), in key order. */
  list(prefix: string): Promise<TArtifactEntry[]>;
  /** Removes the artifact; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Where other machines find the artifact: `file:///abs/path` or `s3://bucket/prefix/key`. */
  uri(key: string): string;
  /** Set for S3-compatible storage: how jobs on other machines reach it (see job-env.ts). */
  readonly s3?: TS3Location;
}

/** Where an S3-compatible store is, as its client sees it; never its credentials. */
export interface TS3Location {
  bucket: string;
  /** A non-AWS service (MinIO, R2, Ceph); AWS S3 when unset. */
  endpoint?: string;
  /** The region the store's client signs for, when one is configured (us-east-1 with a custom endpoint and none). */
  region?: string;
  forcePathStyle: boolean;
}

const partialSuffix = '.partial';
/** Temporary files are named after their writer, so that one left by a dead process can be told apart from one being written. */
const writerTag = () => `${os.hostname()}-${process.pid}`;

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files of earlier writes of `target` whose writer died (a worker killed
 * in the middle of an export): a retried job would otherwise leave them behind for good. Only
 * writers on this host are judged; another host's file is left to that host.
 */
async function removeAbandonedPartials(target: string): Promise<void> {
  const dir = path.dirname(target);
  const prefix = `${path.basename(target)}.${os.hostname()}-`;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith(partialSuffix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !processIsAlive(pid)) await fs.rm(path.join(dir, name), { force: true });
  }
}

export function localArtifactStore(root: string = artifactsDir()): TArtifactStore {
  const base = path.resolve(root);
  const fullPath = (key: string) => {
    assertKey(key);
    return path.join(base, key);
  };

  async function walk(dir: string, prefix: string, out: TArtifactEntry[]): Promise<void> {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
      throw error;
    });
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const key = path.relative(base, full).split(path.sep).join('/');
      if (entry.isDirectory()) {
        // Only folders that can hold keys with the prefix.
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(full, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix) && !key.endsWith(partialSuffix)) {
        const stat = await fs.stat(full).catch(() => null);
        if (stat) out.push({ key, bytes: stat.size });
      }
    }
  }

  return {
    async write(key, body) {
      const target = fullPath(key);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await removeAbandonedPartials(target);
      const temporary = `${target}.${writerTag()}-${randomUUID()}${partialSuffix}`;
      try {
        await pipeline(body, createWriteStream(temporary));
        await fs.rename(temporary, target);
      } catch (error) {
        await fs.rm(temporary, { force: true });
        throw error;
      }
      return { bytes: (await fs.stat(target)).size };
    },
    async read(key) {
      const target = fullPath(key);
      try {
        await fs.access(target);
      } catch {
        throw artifactNotFound(key);
      }
      return createReadStream(target);
    },
    async size(key) {
      try {
        return (await fs.stat(fullPath(key))).size;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw error;
      }
    },
    async list(prefix) {
      assertPrefix(prefix);
      const out: TArtifactEntry[] = [];
      await walk(base, prefix, out);
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async delete(key) {
      await fs.rm(fullPath(key), { force: true });
    },
    uri(key) {
      return pathToFileURL(fullPath(key)).href;
    },
  };
}

type TStoreSettings = Pick<TEnv, 'PAIRWISE_S3_BUCKET' | 'PAIRWISE_S3_PREFIX' | 'PAIRWISE_S3_ENDPOINT' | 'PAIRWISE_S3_REGION' | 'PAIRWISE_S3_FORCE_PATH_STYLE'>;

/** The configured store: S3-compatible storage when PAIRWISE_S3_BUCKET is set, else the local folder. */
export function artifactStoreFrom(settings: TStoreSettings, localRoot?: string): TArtifactStore {
  if (!settings.PAIRWISE_S3_BUCKET) return localArtifactStore(localRoot);
  return s3ArtifactStore({
    bucket: settings.PAIRWISE_S3_BUCKET,
    prefix: settings.PAIRWISE_S3_PREFIX,
    endpoint: settings.PAIRWISE_S3_ENDPOINT,
    region: settings.PAIRWISE_S3_REGION,
    forcePathStyle: settings.PAIRWISE_S3_FORCE_PATH_STYLE,
  });
}

let configured: TArtifactStore | undefined;

/** The process's artifact store, from the environment (one S3 client per process). */
export function artifactStore(): TArtifactStore {
  return (configured ??= artifactStoreFrom(env()));
}
