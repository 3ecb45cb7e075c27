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
