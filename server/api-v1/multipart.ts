import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Busboy } from '@fastify/busboy';
import { AppError, isAppError } from '../errors';

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
/** RFC 2046: 1 to 70 of these characters, not ending in a space. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function bad(message: string): AppError {
  return new AppError('BAD_REQUEST', `multipart body: ${message}`, { field: 'body' });
}

/** The boundary of a `multipart/form-data; boundary=...` content type, or null for other types. */
export function multipartBoundary(contentType: string | null): string | null {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const match = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary || !BOUNDARY.test(boundary)) throw bad('the Content-Type has no valid boundary');
  return boundary;
}

/** Busboy reports a body that stops before the closing boundary as "unexpected end of multipart data". */
function asRequestError(error: unknown): unknown {
  if (isAppError(error)) return error;
  if (error instanceof Error && /unexpected end of multipart data/i.test(error.message)) {
    return bad('the body ended before the closing boundary');
  }
  return error;
}

/**
 * Writes the file parts of a multipart/form-data body into `dir`, streaming (busboy parses, with
 * backpressure from the files being written): memory stays flat whatever the files' sizes.
 * Parts without a file name (plain fields) are refused: parameters go in the query string.
 * Files come back in body order. On failure every file stream is closed before the error is
 * thrown, so the caller can remove `dir`.
 */
export async function spoolMultipart(body: AsyncIterable<Uint8Array>, boundary: string, dir: string, options: { maxFileBytes?: number } = {}): Promise<TSpooledFile[]> {
  const parser = Busboy({
    headers: { 'content-type': `multipart/form-data; boundary="${boundary}"` },
    limits: { parts: MAX_PARTS, headerSize: MAX_HEADER_BYTES, ...(options.maxFileBytes === undefined ? {} : { fileSize: options.maxFileBytes }) },
    // Every part is handed over as a file, so plain fields can be refused instead of dropped.
    isPartAFile: () => true,
  });
  const files: TSpooledFile[] = [];
  const writes: Promise<void>[] = [];
  const open = new Set<WriteStream>();
  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
    parser.destroy();
    // Closing the files, not busboy's part streams: a part that has ended but not yet emitted
    // 'end' would leave its pipeline waiting forever.
    for (const out of open) out.destroy();
  };

  parser.on('file', (field, stream, filename: string | undefined) => {
    if (filename === undefined) {
      stream.resume();
      return fail(bad(`part "${field}" is not a file: send files only (parameters go in the query string)`));
    }
    // Busboy keeps only the base name, with either kind of slash.
    const file: TSpooledFile = { field, name: filename || field || `file-${files.length + 1}`, path: path.join(dir, `part-${files.length}`), bytes: 0 };
    files.push(file);
    const out = createWriteStream(file.path);
    open.add(out);
    // Busboy cuts the part at the limit and carries on: a cut file must not be imported.
    stream.on('limit', () =>
      fail(new AppError('PAYLOAD_TOO_LARGE', `multipart body: file "${file.name}" is over the ${options.maxFileBytes}-byte import limit (PAIRWISE_MAX_IMPORT_BYTES)`, { field: 'body' })),
    );
    writes.push(
      pipeline(stream, out)
        .then(() => {
          file.bytes = out.bytesWritten;
        }, fail)
        .finally(() => open.delete(out)),
    );
  });
  parser.on('partsLimit', () => fail(bad(`more than ${MAX_PARTS} parts`)));

  await pipeline(body, parser).catch(fail);
  await Promise.all(writes);
  if (failure !== undefined) throw asRequestError(failure);
  if (files.length === 0) throw bad('no file parts');
  return files;
}
