import fs from 'node:fs';
import path from 'node:path';
import { dataDir } from '../env';

/**
 * What every transformers.js model loader shares: telling a local folder from a hub id,
 * configuring the library before a load, and loading each model once per process.
 */

/** A value is a folder when it looks like a path or names an existing directory; else a hub id. */
export function localFolder(value: string): string | null {
  const looksLikePath = path.isAbsolute(value) || value.startsWith('.');
  const resolved = path.resolve(/* turbopackIgnore: true */ process.cwd(), value);
  if (looksLikePath || fs.existsSync(resolved)) return resolved;
  return null;
}

/**
 * Imports transformers.js on demand (it loads onnxruntime: seconds, and only workers need it)
 * and configures it for `value`: local folders always, the hub only for a hub id when remote
 * models are allowed, downloads cached under `<data dir>/models` unless told otherwise.
 */
export async function transformersFor(value: string, options: { allowRemoteModels?: boolean; cacheDir?: string } = {}) {
  const transformers = await import('@huggingface/transformers');
  const folder = localFolder(value);
  transformers.env.allowLocalModels = true;
  transformers.env.allowRemoteModels = !folder && Boolean(options.allowRemoteModels);
  transformers.env.cacheDir = options.cacheDir ?? path.join(dataDir(), 'models');
  return { transformers, folder };
}

/** `load()` once per key; a failed load is forgotten, so the next call retries (the folder may appear, the network may come back). */
export function loadOnce<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let promise = cache.get(key);
  if (!promise) {
    promise = load();
    cache.set(key, promise);
    promise.catch(() => cache.delete(key));
  }
  return promise;
}
