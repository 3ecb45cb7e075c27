import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { AppError } from '../errors';

/** A file part of a multipart/form-data body, written to disk. */
export interface TSpooledFile {
  field: string;
  /** The part's file name (base name only), or its field name when it has none. */
  name: string;
  path: string;
  bytes: number;
}

const MAX_PARTS = 32;
const MAX_HEADER_BYTES = 16 * 1024;

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

function bad(message: string): AppError {
  return new AppError('BAD_REQUEST', `multipart body: ${message}`, { field: 'body' });
}

/** The boundary of a `multipart/form-data; boundary=...` content type, or null for other types. */
export function multipartBoundary(contentType: string | null): string | null {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const match = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary || boundary.length > 70) throw bad('the Content-Type has no valid boundary');
  return boundary;
}

function dispositionParam(disposition: string, key: string): string | undefined {
  const extended = new RegExp(`;\\s*${key}\\*=(?:UTF-8|utf-8)''([^;]+)`).exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!.trim());
    } catch {
      return undefined;
    }
  }
  const quoted = new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`).exec(disposition);
  if (quoted) return quoted[1]!.replace(/\\(.)/g, '$1');
  return new RegExp(`;\\s*${key}=([^;\\s]+)`).exec(disposition)?.[1];
}

const finished = (parser: { state: string }) => parser.state === 'done';

async function write(stream: WriteStream, chunk: Buffer): Promise<void> {
  if (chunk.length > 0 && !stream.write(chunk)) await once(stream, 'drain');
}

async function close(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.end(resolve);
  });
}

/**
 * Writes the file parts of a multipart/form-data body into `dir`, streaming: memory holds one
 * chunk and a boundary's length, whatever the files' sizes. Parts without a file name (plain
 * fields) are refused: parameters go in the query string. Files come back in body order.
 */
export async function spoolMultipart(body: AsyncIterable<Uint8Array>, boundary: string, dir: string): Promise<TSpooledFile[]> {
  // With a CRLF in front of the body, the first boundary looks like every other delimiter.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const keep = delimiter.length - 1;
  const files: TSpooledFile[] = [];
  let buffer: Buffer = Buffer.from(CRLF);
  // In an object: the parsing closure changes it, which narrowing of a local would not see.
  const parser: { state: 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done' } = { state: 'preamble' };
  let current: { file: TSpooledFile; stream: WriteStream } | null = null;

  const startPart = (headerText: string) => {
    if (files.length >= MAX_PARTS) throw bad(`more than ${MAX_PARTS} parts`);
    const headers = new Map<string, string>();
    for (const line of headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition') ?? '';
    if (!/^form-data\b/i.test(disposition)) throw bad('a part without "Content-Disposition: form-data"');
    const field = dispositionParam(disposition, 'name') ?? '';
    const filename = dispositionParam(disposition, 'filename');
    if (filename === undefined) throw bad(`part "${field}" is not a file: send files only (parameters go in the query string)`);
    const name = path.basename(filename.replace(/\\/g, '/')) || field || `file-${files.length + 1}`;
    const file: TSpooledFile = { field, name, path: path.join(dir, `part-${files.length}`), bytes: 0 };
    files.push(file);
    current = { file, stream: createWriteStream(file.path) };
  };

  const endPart = async () => {
    if (current) await close(current.stream);
    current = null;
  };

  const emit = async (chunk: Buffer) => {
    if (!current || chunk.length === 0) return;
    current.file.bytes += chunk.length;
    await write(current.stream, chunk);
  };

  try {
    const consume = async (final: boolean) => {
      for (;;) {
        if (parser.state === 'preamble' || parser.state === 'body') {
          const at = buffer.indexOf(delimiter);
          if (at < 0) {
            const safe = final ? buffer.length : Math.max(0, buffer.length - keep);
            if (parser.state === 'body') await emit(buffer.subarray(0, safe));
            buffer = buffer.subarray(safe);
            return;
          }
          if (parser.state === 'body') {
            await emit(buffer.subarray(0, at));
            await endPart();
          }
          buffer = buffer.subarray(at + delimiter.length);
          parser.state = 'after-delimiter';
        } else if (parser.state === 'after-delimiter') {
          if (buffer.length < 2) return;
          if (buffer[0] === 0x2d && buffer[1] === 0x2d) {
            parser.state = 'done';
            return;
          }
          const eol = buffer.indexOf(CRLF);
          if (eol < 0) {
            if (buffer.length > 256) throw bad('a boundary line is malformed');
            return;
          }
          // Transport padding after a delimiter is allowed (RFC 2046): spaces and tabs.
          if (!/^[ \t]*$/.test(buffer.subarray(0, eol).toString('latin1'))) throw bad('a boundary line is malformed');
          buffer = buffer.subarray(eol + CRLF.length);
          parser.state = 'headers';
        } else if (parser.state === 'headers') {
          const end = buffer.indexOf(HEADER_END);
          // A part with no headers at all starts with the blank line directly.
          const blank = buffer.subarray(0, 2).equals(CRLF) ? 0 : -1;
          if (end < 0 && blank < 0) {
            if (buffer.length > MAX_HEADER_BYTES) throw bad('part headers are too long');
            return;
          }
          const headerEnd = blank === 0 ? 0 : end;
          startPart(buffer.subarray(0, headerEnd).toString('utf8'));
          buffer = buffer.subarray(headerEnd + (blank === 0 ? CRLF.length : HEADER_END.length));
          parser.state = 'body';
        } else {
          return;
        }
      }
    };

    for await (const chunk of body) {
      if (parser.state === 'done') continue;
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : Buffer.from(chunk);
      await consume(false);
    }
    if (parser.state !== 'done') {
      await consume(true);
      if (!finished(parser)) throw bad('the body ended before the closing boundary');
    }
  } finally {
    await endPart().catch(() => {});
  }
  if (files.length === 0) throw bad('no file parts');
  return files;
}
