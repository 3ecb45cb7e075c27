import { AppError } from '../errors';

/**
 * Artifact keys are relative, slash-separated, ASCII paths ("exports/p-trl-3.jsonl",
 * "datasets/12/pairs.jsonl"): the same key names a file under the local folder and an object
 * under the S3 prefix, and never escapes either.
 */
const keyPattern = /^[a-zA-Z0-9][a-zA-Z0-9._/-]*$/;

export function assertKey(key: string): void {
  if (!keyPattern.test(key) || key.includes('..') || key.includes('//') || key.endsWith('/')) throw new Error(`invalid artifact key: ${key}`);
}

/** A listing prefix: empty (everything) or the beginning of a key. */
export function assertPrefix(prefix: string): void {
  if (prefix !== '' && (!keyPattern.test(prefix) || prefix.includes('..') || prefix.includes('//'))) throw new Error(`invalid artifact prefix: ${prefix}`);
}

const contentTypes: Record<string, string> = {
  jsonl: 'application/x-ndjson',
  json: 'application/json',
  parquet: 'application/vnd.apache.parquet',
  yaml: 'application/yaml',
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
};

/** The media type an object is stored with, from its key's extension. */
export function contentTypeOf(key: string): string {
  return contentTypes[key.slice(key.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

export function artifactNotFound(key: string): AppError {
  return new AppError('NOT_FOUND', `no artifact ${key}`);
}
