import { expect } from 'vitest';
import { shapeFeatures } from '@/server/formats/json-lines';

/** Keys whose value is a message list (`input` is OpenAI's, whose `messages` are one). */
const messageLists = new Set(['prompt', 'chosen', 'rejected', 'messages', 'completion']);

type TJsonType = 'null' | 'string' | 'int' | 'float' | 'boolean' | 'object' | 'array';

const jsonType = (v: unknown): TJsonType =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : (typeof v as TJsonType);

/**
 * Every path of a line outside its message lists with its JSON type; the items of a list of
 * scalars (flags) as `path[]` with their type, when it has any.
 */
function linePaths(value: unknown, at: string, out: Map<string, TJsonType>): Map<string, TJsonType> {
  out.set(at, jsonType(value));
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === 'object') throw new Error(`${at}: a list of objects outside the message lists`);
      out.set(`${at}[]`, jsonType(item));
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (!messageLists.has(key)) linePaths(child, `${at}.${key}`, out);
    }
  }
  return out;
}

function messageListsOf(line: Record<string, unknown>): [string, unknown][] {
  return Object.entries(line).flatMap(([key, value]) => (messageLists.has(key) ? [[key, value] as [string, unknown]] : key === 'input' ? messageListsOf(value as Record<string, unknown>) : []));
}

/** A message carries role and content, and an optional key only with its one type: never null, never an empty list. */
function expectTrainingMessage(m: unknown, where: string): void {
  expect(m !== null && typeof m === 'object' && !Array.isArray(m), `${where}: a message object`).toBe(true);
  const message = m as Record<string, unknown>;
  expect(Object.keys(message).filter((k) => !['role', 'content', 'name', 'tool_call_id', 'tool_calls'].includes(k)), `${where}: unknown keys`).toEqual([]);
  expect(typeof message.role, `${where}.role`).toBe('string');
  expect(typeof message.content, `${where}.content`).toBe('string');
  for (const key of ['name', 'tool_call_id'] as const) {
    if (key in message) expect(typeof message[key], `${where}.${key}`).toBe('string');
  }
  if ('tool_calls' in message) {
    const calls = message.tool_calls as Record<string, unknown>[];
    expect(Array.isArray(calls) && calls.length > 0, `${where}.tool_calls: a non-empty list`).toBe(true);
    for (const call of calls) {
      expect(call.type, `${where}.tool_calls[].type`).toBe('function');
      expect(Object.keys(call).filter((k) => !['id', 'type', 'function'].includes(k))).toEqual([]);
      if ('id' in call) expect(typeof call.id).toBe('string');
      const fn = call.function as Record<string, unknown>;
      expect(Object.keys(fn).sort()).toEqual(['arguments', 'name']);
      expect([typeof fn.name, typeof fn.arguments]).toEqual(['string', 'string']);
    }
  }
}

/**
 * The stable schema a training file must have for `datasets.load_dataset("json")`, without Python:
 * - outside the message lists, every line has the same paths with the same JSON types, none null;
 * - every message has `role` and `content` strings, and `name`, `tool_call_id`, `tool_calls` only
 *   with their one type (never null, never an empty list);
 * - every shape of the file (json-lines.ts: key sets, types, empty lists) shows in its leading
 *   lines: the lines that first show a shape come first, so the first 10 MiB `datasets` types
 *   the file from hold them all.
 */
export function expectStableTrainingSchema(lines: Record<string, unknown>[]): void {
  expect(lines.length, 'a file with lines').toBeGreaterThan(0);
  const first = linePaths(lines[0], '$', new Map());
  for (const [i, line] of lines.entries()) {
    const paths = linePaths(line, '$', new Map());
    expect([...paths].filter(([, type]) => type === 'null'), `line ${i + 1}: null values`).toEqual([]);
    // A list of scalars that is empty here has no item type to compare.
    const comparable = (m: Map<string, TJsonType>, other: Map<string, TJsonType>) => [...m].filter(([p]) => !p.endsWith('[]') || other.has(p)).sort();
    expect(comparable(paths, first), `line ${i + 1}: its paths and types`).toEqual(comparable(first, paths));
    for (const [key, messages] of messageListsOf(line)) {
      expect(Array.isArray(messages), `line ${i + 1}: ${key} is a message list`).toBe(true);
      for (const [j, m] of (messages as unknown[]).entries()) expectTrainingMessage(m, `line ${i + 1} ${key}[${j}]`);
    }
  }
  const firstSeen = new Map<string, number>();
  for (const [i, line] of lines.entries()) for (const feature of shapeFeatures(line)) if (!firstSeen.has(feature)) firstSeen.set(feature, i);
  const witnesses = [...new Set(firstSeen.values())].sort((a, b) => a - b);
  expect(witnesses, 'the lines that first show a shape lead the file').toEqual(witnesses.map((_, i) => i));
}

/** The lines of a JSONL text, parsed. */
export function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
