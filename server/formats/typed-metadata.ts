import type { TPreferencePair } from '../exports/preference-pairs';

/** Metadata fields that hold a number (or nothing): written as 0 when there is none. */
const numberFields = new Set(['guidelines_version']);

/**
 * The metadata column of a `trl` training line, with one JSON type per key on every line:
 * no field is null, because `datasets` types a column that is null throughout its first 10 MiB
 * as `null` and then fails on the first line that has a value ("Couldn't cast array of type
 * string to null"), and a train file typed that way fails the test file loaded with it. Text
 * that is absent (no strength, model, review, source, external id) is the empty string; a
 * guidelines version that is absent is 0 (versions count from 1). `flags` stays a list.
 */
export function typedMetadata<M extends TPreferencePair['metadata']>(metadata: M): Record<keyof M, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) out[key] = value ?? (numberFields.has(key) ? 0 : '');
  return out as Record<keyof M, unknown>;
}
