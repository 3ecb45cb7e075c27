import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * JSON lines for trainers. `datasets.load_dataset("json")` fixes a file's schema from its first
 * 10 MiB: a message shape (a tool call, a tool result) or a value (the first flag) that first
 * appears after that fails the whole load, and a shape seen there next to another one makes the
 * message column `Json`, which gives every message back exactly as written. So a training file
 * opens with its *shape witnesses*: the first line that shows each shape, then every other line
 * in its order. A file whose lines all look alike is written in order.
 */

/** A line to write: its JSON text, with what is known of its shapes. */
export interface TJsonLine {
  text: string;
  /** The value, when the producer has it: its shapes are read without parsing the text. */
  value?: unknown;
  /**
   * The producer knows the line has the shapes every other plain line has (for pair lines: no
   * flag, no message with more than a role and content), so only the first one is read.
   */
  plain?: boolean;
}

/** Objects as lines. */
export async function* jsonLinesOf(objects: AsyncIterable<object>): AsyncGenerator<TJsonLine> {
  for await (const value of objects) yield { text: JSON.stringify(value), value };
}

/** Lines per yielded chunk (and per progress report) when writing in order. */
const chunkLines = 256;
/** More witnesses than this means the lines have no fixed schema; the rest keep their place. */
const maxWitnesses = 1_000;

/**
 * The shapes a JSON value shows, as `datasets` (pyarrow's JSON reader) types them: each object's
 * key set, each value's JSON type (integer and float apart), an empty list apart from its items.
 */
export function shapeFeatures(value: unknown, at = '$', out: Set<string> = new Set()): Set<string> {
  if (value === null) out.add(`${at}:null`);
  else if (Array.isArray(value)) {
    if (value.length === 0) out.add(`${at}:[]`);
    for (const item of value) shapeFeatures(item, `${at}[]`, out);
  } else if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    out.add(`${at}:{${keys.join(',')}}`);
    for (const key of keys) shapeFeatures((value as Record<string, unknown>)[key], `${at}.${key}`, out);
  } else if (typeof value === 'number') out.add(`${at}:${Number.isInteger(value) ? 'int' : 'float'}`);
  else out.add(`${at}:${typeof value}`);
  return out;
}

export interface TJsonLinesOptions {
  /** Training files: move each shape's first line to the front (see above). */
  witnessesFirst: boolean;
  /** Called with the number of lines written so far, a chunk at a time. */
  onRows?: (rows: number) => void;
}

/** Lines as newline-terminated text chunks. */
export function writeJsonLines(lines: AsyncIterable<TJsonLine>, options: TJsonLinesOptions): AsyncGenerator<string> {
  return options.witnessesFirst ? witnessesFirst(lines, options.onRows) : inOrder(lines, options.onRows);
}

async function* inOrder(lines: AsyncIterable<TJsonLine>, onRows?: (rows: number) => void): AsyncGenerator<string> {
  let chunk = '';
  let rows = 0;
  for await (const { text } of lines) {
    chunk += text + '\n';
    if (++rows === chunkLines) {
      onRows?.(rows);
      yield chunk;
      chunk = '';
      rows = 0;
    }
  }
  if (rows > 0) {
    onRows?.(rows);
    yield chunk;
  }
}

interface TWitness {
  text: string;
  /** Byte range of the line (with its newline) in the spooled file. */
  start: number;
  end: number;
}

/**
 * Spools the lines to a temporary file while noting each shape's first line (memory holds the
 * witnesses only), then yields the witnesses and the file's bytes around them. The first byte
 * comes after one pass over the input; the replay copies byte ranges, it parses nothing.
 */
async function* witnessesFirst(lines: AsyncIterable<TJsonLine>, onRows?: (rows: number) => void): AsyncGenerator<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pairwise-lines-'));
  const file = path.join(dir, `${randomUUID()}.jsonl`);
  try {
    const { witnesses, bytes } = await spool(lines, file, onRows);
    if (witnesses.length > 0) yield witnesses.map((w) => w.text + '\n').join('');
    let from = 0;
    for (const range of [...witnesses.map((w) => ({ start: w.start, end: w.end })), { start: bytes, end: bytes }]) {
      if (range.start > from) {
        // `end` is inclusive in createReadStream.
        for await (const chunk of createReadStream(file, { start: from, end: range.start - 1, encoding: 'utf8', highWaterMark: 1 << 20 })) yield chunk as string;
      }
      from = range.end;
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Writes every line to `file`; returns the witness lines in order, and the file's size. */
async function spool(lines: AsyncIterable<TJsonLine>, file: string, onRows?: (rows: number) => void): Promise<{ witnesses: TWitness[]; bytes: number }> {
  const handle = await fs.open(file, 'w');
  const seen = new Set<string>();
  const witnesses: TWitness[] = [];
  let bytes = 0;
  try {
    let buffer = '';
    let plainSeen = false;
    let unreported = 0;
    for await (const line of lines) {
      const size = Buffer.byteLength(line.text) + 1;
      if (!(line.plain && plainSeen) && witnesses.length < maxWitnesses) {
        plainSeen ||= Boolean(line.plain);
        let shows = false;
        for (const feature of shapeFeatures(line.value !== undefined ? line.value : JSON.parse(line.text))) {
          if (!seen.has(feature)) {
            seen.add(feature);
            shows = true;
          }
        }
        if (shows) witnesses.push({ text: line.text, start: bytes, end: bytes + size });
      }
      bytes += size;
      buffer += line.text + '\n';
      if (++unreported === chunkLines) {
        onRows?.(unreported);
        unreported = 0;
      }
      if (buffer.length >= 1 << 20) {
        await handle.write(buffer);
        buffer = '';
      }
    }
    if (buffer) await handle.write(buffer);
    if (unreported > 0) onRows?.(unreported);
  } finally {
    await handle.close();
  }
  return { witnesses, bytes };
}
