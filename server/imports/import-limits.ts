import { Readable } from 'node:stream';
import { env } from '../env';
import { AppError } from '../errors';
import type { TRejectedLine } from './import-formats';

export interface TImportLimits {
  maxMessageBytes: number;
  /** The longest line a file may hold. */
  maxLineBytes: number;
  /** Web routes: the most bytes of a request body, and of an import's text after gunzip. */
  maxImportBytes: number;
}

/**
 * A line may hold a prompt of several turns and up to eight responses, each message up to
 * the message limit; sixteen of them is room for real data while a single huge line (a
 * decompression bomb) is refused after a few MB instead of filling memory.
 */
const MESSAGES_PER_LINE = 16;

export function importLimits(): TImportLimits {
  const e = env();
  return {
    maxMessageBytes: e.PAIRWISE_MAX_MESSAGE_BYTES,
    maxLineBytes: e.PAIRWISE_MAX_LINE_BYTES ?? MESSAGES_PER_LINE * e.PAIRWISE_MAX_MESSAGE_BYTES,
    maxImportBytes: e.PAIRWISE_MAX_IMPORT_BYTES,
  };
}

export function bodyTooLarge(limit: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `the request body is over the ${limit}-byte import limit (PAIRWISE_MAX_IMPORT_BYTES)`, { field: 'body' });
}

/**
 * A request body as a stream that fails with a 413 once it passes `limit` bytes: a declared
 * Content-Length over the limit is refused before anything is read, and a body without one
 * (chunked) is counted as it arrives, never held.
 */
export function limitedBody(request: Request, limit: number): Readable {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw bodyTooLarge(limit);
  if (!request.body) throw new AppError('BAD_REQUEST', 'the request has no file in its body', { field: 'body' });
  const body = request.body;
  return Readable.from(
    (async function* () {
      let bytes = 0;
      const reader = body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          bytes += value.byteLength;
          if (bytes > limit) throw bodyTooLarge(limit);
          yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        }
      } finally {
        // Stops the upload being read when the import gives up early.
        await reader.cancel().catch(() => {});
      }
    })(),
    { objectMode: false },
  );
}

/** The rejected lines a route's answer lists; the count covers them all. */
export const LISTED_REJECTS = 1000;

/** Collects the first LISTED_REJECTS rejected lines of a lenient import, for a route's JSON answer. */
export function rejectList(): { lines: TRejectedLine[]; onRejected: (rejected: TRejectedLine) => void } {
  const lines: TRejectedLine[] = [];
  return { lines, onRejected: (rejected) => void (lines.length < LISTED_REJECTS && lines.push(rejected)) };
}

/** A `skipInvalid` query value: 1/true or 0/false (absent: false). */
export function parseSkipInvalid(value: string | null | undefined): boolean {
  if (value === null || value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new AppError('BAD_REQUEST', 'skipInvalid: 1 or 0 (true or false)', { field: 'skipInvalid' });
}
