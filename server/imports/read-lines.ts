import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isAppError } from '../errors';

export interface TLine {
  number: number;
  text: string;
  /**
   * Set (with an empty text) for a line over `maxLineBytes`: it is reported as soon as the
   * bound is crossed, and the rest of it is skipped, unbuffered, if reading goes on.
   */
  tooLong?: true;
}

export interface TReadLimits {
  /** The longest line, in bytes of text (after gunzip). */
  maxLineBytes?: number;
  /** The most bytes of text (after gunzip) that `total` may count, over every file that shares it. */
  maxBytes?: number;
  /** The text bytes read so far; one object shared by the files of an import bounds them together. */
  total?: { bytes: number };
}

/** The input could not be read as text lines (a corrupt gzip stream, a broken upload). */
export class UnreadableInputError extends Error {
  constructor(
    message: string,
    readonly afterLine: number,
  ) {
    super(message);
    this.name = 'UnreadableInputError';
  }
}

/** The text is over `maxBytes` (a decompression bomb, or simply too much for one import). */
export class InputTooLargeError extends UnreadableInputError {
  constructor(
    readonly limit: number,
    afterLine: number,
  ) {
    super(`the data is over the ${limit}-byte limit of one import (after gunzip)`, afterLine);
    this.name = 'InputTooLargeError';
  }
}

function isGzip(chunk: Buffer): boolean {
  return chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b;
}

const UTF8_BOM = '\uFEFF';

/**
 * Lines of a text stream, gunzipped when the stream starts with the gzip magic bytes
 * (whatever the file is called). Streams with its own splitter rather than readline, which
 * buffers a whole line without limit: memory stays bounded by `maxLineBytes` whatever the
 * input, a decompression bomb included. `onBytes` reports raw (compressed) bytes as they are
 * read, for progress bars. Every failure (the source's, gunzip's) comes out of the iteration
 * as an UnreadableInputError (an AppError from the source passes through as it is), and
 * stopping early closes the source: nothing is left to fail later without a listener.
 */
export async function* readLines(source: Readable, onBytes?: (bytes: number) => void, limits: TReadLimits = {}): AsyncGenerator<TLine> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const maxLine = limits.maxLineBytes ?? Infinity;
  const maxBytes = limits.maxBytes ?? Infinity;
  const total = limits.total ?? { bytes: 0 };
  let number = 0;
  let gzip = false;
  let gunzip: ReturnType<typeof createGunzip> | null = null;
  const stopPump = new AbortController();
  let parts: Buffer[] = [];
  let length = 0;
  let skipping = false;
  const take = (): string => {
    const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, length)).toString('utf8');
    parts = [];
    length = 0;
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    return number === 1 && line.startsWith(UTF8_BOM) ? line.slice(1) : line;
  };
  try {
    // Gather at least the two magic bytes before deciding: a stream may start with a 1-byte chunk.
    let firstChunk = Buffer.alloc(0);
    while (firstChunk.length < 2) {
      const next = await chunks.next();
      if (next.done) break;
      firstChunk = Buffer.concat([firstChunk, Buffer.from(next.value)]);
    }
    if (firstChunk.length === 0) return;
    onBytes?.(firstChunk.length);
    gzip = isGzip(firstChunk);
    let text: AsyncIterable<Buffer>;
    if (gzip) {
      const inflater = createGunzip();
      gunzip = inflater;
      // Kept for the stream's whole life: an error after the reader has stopped has a listener.
      let failure: Error | null = null;
      inflater.on('error', (error) => (failure ??= error));
      const pump = async () => {
        try {
          if (!inflater.write(firstChunk)) await once(inflater, 'drain', { signal: stopPump.signal });
          for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
            const chunk = Buffer.from(next.value);
            onBytes?.(chunk.length);
            if (!inflater.write(chunk)) await once(inflater, 'drain', { signal: stopPump.signal });
          }
          inflater.end();
        } catch (error) {
          if (!stopPump.signal.aborted) inflater.destroy(failure ?? (error as Error));
        }
      };
      void pump();
      text = inflater;
    } else {
      text = (async function* () {
        yield firstChunk;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
          const chunk = Buffer.from(next.value);
          onBytes?.(chunk.length);
          yield chunk;
        }
      })();
    }
    for await (const chunk of text) {
      total.bytes += chunk.length;
      if (total.bytes > maxBytes) throw new InputTooLargeError(maxBytes, number);
      let start = 0;
      while (start < chunk.length) {
        const newline = chunk.indexOf(0x0a, start);
        const end = newline < 0 ? chunk.length : newline;
        if (!skipping && end > start) {
          if (length + end - start > maxLine) {
            parts = [];
            length = 0;
            skipping = true;
            number += 1;
            yield { number, text: '', tooLong: true };
          } else {
            parts.push(chunk.subarray(start, end));
            length += end - start;
          }
        }
        if (newline < 0) break;
        if (skipping) skipping = false;
        else {
          number += 1;
          yield { number, text: take() };
        }
        start = newline + 1;
      }
    }
    if (!skipping && length > 0) {
      number += 1;
      yield { number, text: take() };
    }
  } catch (error) {
    if (error instanceof UnreadableInputError || isAppError(error)) throw error;
    const reason = (error as Error).message;
    throw new UnreadableInputError(gzip ? `the gzip stream is corrupt (${reason})` : `the input could not be read (${reason})`, number);
  } finally {
    stopPump.abort();
    gunzip?.destroy();
    if (!source.destroyed) source.destroy();
  }
}
