import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export interface TLine {
  number: number;
  text: string;
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

function isGzip(chunk: Buffer): boolean {
  return chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b;
}

/**
 * Lines of a text stream, gunzipped when the stream starts with the gzip magic bytes
 * (whatever the file is called). Streams: memory stays bounded by the longest line.
 * `onBytes` reports raw (compressed) bytes as they are read, for progress bars.
 */
export async function* readLines(source: Readable, onBytes?: (bytes: number) => void): AsyncGenerator<TLine> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let number = 0;
  let gzip = false;
  try {
    // Gather at least the two magic bytes before deciding: a stream may start with a 1-byte chunk.
    let firstChunk = Buffer.alloc(0);
    while (firstChunk.length < 2) {
      const next = await chunks.next();
      if (next.done) break;
      firstChunk = Buffer.concat([firstChunk, Buffer.from(next.value)]);
    }
    if (firstChunk.length === 0) return;
    gzip = isGzip(firstChunk);
    const raw = Readable.from(
      (async function* () {
        onBytes?.(firstChunk.length);
        yield firstChunk;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
          const chunk = Buffer.from(next.value);
          onBytes?.(chunk.length);
          yield chunk;
        }
      })(),
    );
    let decoded: Readable = raw;
    if (gzip) {
      const gunzip = createGunzip();
      raw.on('error', (error) => gunzip.destroy(error));
      decoded = raw.pipe(gunzip);
    }
    for await (const text of createInterface({ input: decoded, crlfDelay: Infinity })) {
      number += 1;
      yield { number, text };
    }
  } catch (error) {
    const reason = (error as Error).message;
    throw new UnreadableInputError(gzip ? `the gzip stream is corrupt (${reason})` : `the input could not be read (${reason})`, number);
  }
}
