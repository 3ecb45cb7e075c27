import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { artifactsDir } from '../env';

/**
 * Where files (exports, dataset versions, run logs) live. A local folder for now;
 * S3-compatible storage implements the same interface when configured.
 */
export interface TArtifactStore {
  /** Writes atomically: readers never see a half-written artifact. Returns the byte size. */
  write(key: string, body: AsyncIterable<string | Buffer>): Promise<{ bytes: number }>;
  read(key: string): Promise<Readable>;
  size(key: string): Promise<number | null>;
}

function assertKey(key: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._/-]*$/.test(key) || key.includes('..')) throw new Error(`invalid artifact key: ${key}`);
}

export function localArtifactStore(root: string = artifactsDir()): TArtifactStore {
  const fullPath = (key: string) => {
    assertKey(key);
    return path.join(root, key);
  };
  return {
    async write(key, body) {
      const target = fullPath(key);
      await fs.mkdir(path.dirname(target), { recursive: true });
      const temporary = `${target}.${process.pid}.${Date.now()}.partial`;
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
      await fs.access(target);
      return createReadStream(target);
    },
    async size(key) {
      try {
        return (await fs.stat(fullPath(key))).size;
      } catch {
        return null;
      }
    },
  };
}
