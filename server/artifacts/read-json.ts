import type { TArtifactStore } from './store';

/** A small JSON file of the store, parsed; null when it is absent or still being written. */
export async function readJson(store: TArtifactStore, key: string): Promise<unknown> {
  if ((await store.size(key)) === null) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(key)) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null; // being written
  }
}
