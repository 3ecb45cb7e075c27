import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { messageRoles, type TMessage } from '@/db/schema';
import type { TStrength } from '../annotation/strengths';
import { canonicalJson } from '../content/hash';
import { hasPromptText } from '../content/schemas';
import { AppError } from '../errors';
import { issuePath } from '../validation';

/**
 * What every import format turns its lines into: a comparison in the native shape (optionally
 * with the label that came with the data), or a bare prompt. One writer stores them all.
 */
export interface TComparisonRecord {
  kind: 'comparison';
  id?: string;
  prompt: TMessage[];
  /** Stored on the prompt row when the prompt is new (the first import of a context wins). */
  promptMetadata?: Record<string, unknown>;
  responses: { content: TMessage[]; model?: string }[];
  metadata?: Record<string, unknown>;
  gold?: { choice: number; min_strength?: TStrength };
  /** A pair labelled in the data: the index in `responses` of the preferred response. */
  preferred?: number;
}

export interface TPromptRecord {
  kind: 'prompt';
  prompt: TMessage[];
  metadata?: Record<string, unknown>;
}

export type TImportRecord = TComparisonRecord | TPromptRecord;

/** A bad line: the reason only; the importer adds the file and the line number. */
export class LineError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'LineError';
  }
}

/** The 400 of a bad line: "file: line N: reason" (just "line N: reason" for an unnamed upload), the place as the field. */
export function lineError(file: string | undefined, line: number, reason: string): AppError {
  const where = file === undefined ? `line ${line}` : `${file}: line ${line}`;
  return new AppError('BAD_REQUEST', `${where}: ${reason}`, { field: where });
}

export function parseJsonLine(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new LineError(`malformed JSON (${(error as Error).message})`);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses `value` with a schema; the first issue becomes the line's reason, under `path`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = [path, issuePath(issue.path)].filter(Boolean).join('.').replace(/\.\[/g, '[');
  throw new LineError(where ? `${where}: ${issue.message}` : issue.message);
}

const roles = new Set<string>(messageRoles);
const NON_SPACE = /\S/;

/**
 * The common shapes of message content without the schema: a string (one turn of `role`; for
 * a user turn, not a blank one), or a list of `{role, content}` objects with known roles and
 * string content, empty or not. Anything else returns null and goes through the full schema,
 * which is the authority (and gives the error messages); for what it accepts, both give the
 * same messages. Prompts are checked for text by the formats (requirePromptText).
 */
export function plainMessages(value: unknown, role: 'user' | 'assistant'): TMessage[] | null {
  if (typeof value === 'string') return role === 'assistant' || NON_SPACE.test(value) ? [{ role, content: value }] : null;
  if (!Array.isArray(value) || value.length === 0) return null;
  const out: TMessage[] = [];
  for (const m of value) {
    if (!isPlainObject(m)) return null;
    const content = m.content;
    const r = m.role;
    if (Object.keys(m).length !== 2 || typeof content !== 'string' || typeof r !== 'string' || !roles.has(r)) return null;
    out.push({ role: r as TMessage['role'], content });
  }
  return out;
}

/** A prompt of blank turns only asks nothing: refused, naming the field. */
export function requirePromptText(messages: TMessage[], field: string): TMessage[] {
  if (!hasPromptText(messages)) throw new LineError(`${field}: must not be empty: every message is blank`);
  return messages;
}

/**
 * The canonical JSON of a message list (keys sorted), exactly as `canonicalJson` writes it,
 * without its per-object sorting: content hashes are computed on every imported line.
 */
export function canonicalMessagesJson(messages: TMessage[]): string {
  let out = '[';
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (i > 0) out += ',';
    // Sorted: content, name, role, tool_call_id, tool_calls.
    out += `{"content":${JSON.stringify(m.content)}`;
    if (m.name !== undefined) out += `,"name":${JSON.stringify(m.name)}`;
    out += `,"role":${JSON.stringify(m.role)}`;
    if (m.tool_call_id !== undefined) out += `,"tool_call_id":${JSON.stringify(m.tool_call_id)}`;
    if (m.tool_calls !== undefined) out += `,"tool_calls":${canonicalJson(m.tool_calls)}`;
    out += '}';
  }
  return out + ']';
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Throws when a message is over the byte limit (counted in UTF-8 bytes, not characters). */
export function checkMessageSizes(messages: TMessage[], maxBytes: number): void {
  for (const m of messages) {
    // A UTF-16 unit is at most 3 UTF-8 bytes: most messages need no count.
    if (m.content.length * 3 <= maxBytes || Buffer.byteLength(m.content) <= maxBytes) continue;
    throw new LineError(`${m.role === 'assistant' || m.role === 'ipython' ? 'an' : 'a'} ${m.role} message is over the ${maxBytes}-byte limit`);
  }
}

/** `id` of a line: a non-empty string of at most 200 characters, or an integer (stored as text). */
export function externalId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (value.length === 0) throw new LineError('id: must not be empty');
    if (value.length > 200) throw new LineError('id: must be at most 200 characters');
    return value;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new LineError('id: must be a string or an integer');
}

/**
 * The prompt before the last assistant turn of a conversation: everything up to and including
 * the last user message. The rest (assistant messages, with any tool calls and results) is the
 * response. `what` names the field in errors.
 */
export function splitLastAssistantTurn(messages: TMessage[], what: string): { prompt: TMessage[]; response: TMessage[] } {
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === 'user') {
      lastUser = i;
      break;
    }
  }
  if (lastUser === messages.length - 1) throw new LineError(`${what}: the conversation does not end with an assistant turn`);
  if (lastUser < 0) throw new LineError(`${what}: no user message before the assistant turn`);
  const response = messages.slice(lastUser + 1);
  if (response[0]!.role !== 'assistant') throw new LineError(`${what}: the last turn does not start with an assistant message`);
  return { prompt: messages.slice(0, lastUser + 1), response };
}

/**
 * The keys a format does not read, as metadata: a `metadata` object's keys, then every other
 * key under its own name. Undefined when there are none.
 */
export function extraFields(json: Record<string, unknown>, read: string[]): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = isPlainObject(json.metadata) ? { ...json.metadata } : {};
  for (const [key, value] of Object.entries(json)) {
    if (read.includes(key) || (key === 'metadata' && isPlainObject(value))) continue;
    out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
