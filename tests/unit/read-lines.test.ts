import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readLines, UnreadableInputError, type TLine } from '@/server/imports/read-lines';

async function collect(source: Readable, onBytes?: (bytes: number) => void): Promise<TLine[]> {
  const lines: TLine[] = [];
  for await (const line of readLines(source, onBytes)) lines.push(line);
  return lines;
}

/** Reads until the error, returning the lines seen before it and the error itself. */
async function collectUntilError(source: Readable): Promise<{ lines: TLine[]; error: unknown }> {
  const lines: TLine[] = [];
  try {
    for await (const line of readLines(source)) lines.push(line);
  } catch (error) {
    return { lines, error };
  }
  throw new Error('expected readLines to fail');
}

/** Gzip bytes of `text` with a sync flush at the end: complete deflate blocks but no trailer. */
async function gzipWithoutEnd(text: string): Promise<Buffer> {
  const gzip = zlib.createGzip();
  const parts: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => parts.push(chunk));
  gzip.write(text);
  await new Promise<void>((resolve) => gzip.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  gzip.destroy();
  return Buffer.concat(parts);
}

function splitEvery(buffer: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += size) chunks.push(buffer.subarray(i, i + size));
  return chunks;
}

const text = 'first line\nsecond line\nthird, with ünïcödé\n';
const expected: TLine[] = [
  { number: 1, text: 'first line' },
  { number: 2, text: 'second line' },
  { number: 3, text: 'third, with ünïcödé' },
];

describe('readLines', () => {
  it('numbers the lines of a plain stream', async () => {
    expect(await collect(Readable.from([Buffer.from(text)]))).toEqual(expected);
  });

  it('reads the last line without a trailing newline', async () => {
    expect(await collect(Readable.from([Buffer.from('a\nb')]))).toEqual([
      { number: 1, text: 'a' },
      { number: 2, text: 'b' },
    ]);
  });

  it('gunzips a stream that starts with the gzip magic bytes', async () => {
    expect(await collect(Readable.from([zlib.gzipSync(text)]))).toEqual(expected);
  });

  it('strips CRLF line endings and keeps blank lines numbered', async () => {
    expect(await collect(Readable.from([Buffer.from('a\r\nb\r\n\r\nc\r\n')]))).toEqual([
      { number: 1, text: 'a' },
      { number: 2, text: 'b' },
      { number: 3, text: '' },
      { number: 4, text: 'c' },
    ]);
  });

  it('joins lines split across chunks, including inside a multi-byte character', async () => {
    // 3-byte chunks cut lines mid-way and split the two-byte UTF-8 sequences of "ünïcödé".
    const chunks = splitEvery(Buffer.from(text), 3);
    expect(chunks.length).toBeGreaterThan(10);
    expect(await collect(Readable.from(chunks))).toEqual(expected);
  });

  it('splits CRLF across chunks without producing an extra blank line', async () => {
    const chunks = [Buffer.from('a\r'), Buffer.from('\nb\r'), Buffer.from('\n')];
    expect(await collect(Readable.from(chunks))).toEqual([
      { number: 1, text: 'a' },
      { number: 2, text: 'b' },
    ]);
  });

  it('gunzips a stream that arrives in small chunks', async () => {
    const chunks = splitEvery(zlib.gzipSync(text), 5);
    expect(await collect(Readable.from(chunks))).toEqual(expected);
  });

  // A slow upload or a socket can deliver a first chunk of one byte: detection must wait for two.
  it('gunzips a stream whose first chunk holds a single byte', async () => {
    const gz = zlib.gzipSync(text);
    expect(await collect(Readable.from([gz.subarray(0, 1), gz.subarray(1)]))).toEqual(expected);
  });

  it('accepts string chunks', async () => {
    expect(await collect(Readable.from(['one\ntw', 'o\n'], { objectMode: true }))).toEqual([
      { number: 1, text: 'one' },
      { number: 2, text: 'two' },
    ]);
  });

  it('yields nothing for an empty stream, plain or gzipped', async () => {
    expect(await collect(Readable.from([]))).toEqual([]);
    expect(await collect(Readable.from([zlib.gzipSync('')]))).toEqual([]);
  });

  it('reports a gzip stream cut before its trailer as corrupt, after the lines it did decode', async () => {
    const gz = zlib.gzipSync('a\nb\nc\n');
    // Dropping the 8-byte trailer (CRC and size) leaves every line decodable.
    const { lines, error } = await collectUntilError(Readable.from([gz.subarray(0, gz.length - 8)]));
    expect(lines.map((l) => l.text)).toEqual(['a', 'b', 'c']);
    expect(error).toBeInstanceOf(UnreadableInputError);
    expect(error).toMatchObject({ afterLine: 3, message: 'the gzip stream is corrupt (unexpected end of file)' });
  });

  it('reports garbage inside a gzip stream with the number of lines read before it', async () => {
    const head = await gzipWithoutEnd('x\ny\n');
    const { lines, error } = await collectUntilError(Readable.from([head, Buffer.from('this is not deflate data at all')]));
    expect(lines.map((l) => l.text)).toEqual(['x', 'y']);
    expect(error).toBeInstanceOf(UnreadableInputError);
    expect((error as UnreadableInputError).afterLine).toBe(2);
    expect((error as UnreadableInputError).message).toMatch(/^the gzip stream is corrupt \(.+\)$/);
  });

  it('reports a gzip stream that ends inside its header after no lines', async () => {
    const gz = zlib.gzipSync(text);
    const { lines, error } = await collectUntilError(Readable.from([gz.subarray(0, 6)]));
    expect(lines).toEqual([]);
    expect(error).toBeInstanceOf(UnreadableInputError);
    expect(error).toMatchObject({ afterLine: 0 });
  });

  it('reports a failing plain source as unreadable input after the lines it delivered', async () => {
    const source = Readable.from(
      (async function* () {
        yield Buffer.from('one\ntwo\n');
        throw new Error('connection reset');
      })(),
    );
    const { lines, error } = await collectUntilError(source);
    expect(lines.map((l) => l.text)).toEqual(['one', 'two']);
    expect(error).toBeInstanceOf(UnreadableInputError);
    expect(error).toMatchObject({ afterLine: 2, message: 'the input could not be read (connection reset)' });
  });

  it('reports the raw (compressed) bytes it reads through onBytes', async () => {
    const body = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(i % 17)}`).join('\n');
    const gz = zlib.gzipSync(body);
    expect(gz.length).toBeLessThan(Buffer.byteLength(body));
    const calls: number[] = [];
    const lines = await collect(Readable.from(splitEvery(gz, 64)), (n) => calls.push(n));
    expect(lines).toHaveLength(200);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(gz.length);
    expect(calls.length).toBe(Math.ceil(gz.length / 64));

    let plainBytes = 0;
    await collect(Readable.from([Buffer.from(body)]), (n) => (plainBytes += n));
    expect(plainBytes).toBe(Buffer.byteLength(body));
  });
});
