import type { z } from 'zod';
import { AppError } from './errors';

/** "responses.1.content" style path for error messages. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** Parses service input; a failure is a 400 that names the first offending field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issuePath(issue.path);
  throw new AppError('BAD_REQUEST', field ? `${field}: ${issue.message}` : issue.message, { field: field || undefined });
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The first string in a request's input that PostgreSQL cannot store as text: a NUL character
 * (refused by text and jsonb alike) or half of a UTF-16 surrogate pair (not Unicode at all).
 * Found before any procedure runs, it is a 400 naming the field instead of a database error.
 */
export function unstorableText(value: unknown, path: PropertyKey[] = [], depth = 0): { field: string; reason: string } | null {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { field: issuePath(path), reason: 'contains a NUL character, which text cannot hold' };
    if (loneSurrogate.test(value)) return { field: issuePath(path), reason: 'contains half of a UTF-16 surrogate pair, which is not valid text' };
    return null;
  }
  // Deeper than any input of ours: the schemas refuse it; no need to walk it here.
  if (value === null || typeof value !== 'object' || depth > 64) return null;
  for (const [key, item] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    if (typeof key === 'string' && key.includes('\u0000')) return { field: issuePath(path), reason: 'has a key with a NUL character' };
    const found = unstorableText(item, [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

/** unstorableText as a thrown 400 naming the field, for the REST routes, which have no tRPC middleware. */
export function requireStorableText(value: unknown): void {
  const found = unstorableText(value);
  if (found) throw new AppError('BAD_REQUEST', found.field ? `${found.field}: ${found.reason}` : found.reason, { field: found.field || undefined });
}
