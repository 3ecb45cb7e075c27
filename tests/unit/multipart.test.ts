import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { multipartBoundary, spoolMultipart } from '@/server/api-v1/multipart';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-multipart-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** A body as FormData encodes it, so the parser is checked against the platform's own encoder. */
async function encode(parts: { field: string; name: string; content: string | Buffer }[]): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  for (const p of parts) form.append(p.field, new Blob([typeof p.content === 'string' ? p.content : new Uint8Array(p.content)]), p.name);
  const response = new Response(form);
  return { body: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get('content-type')! };
}

async function spool(body: Buffer, contentType: string, chunkSize: number) {
  const sub = fs.mkdtempSync(path.join(dir, 'run-'));
  const files = await spoolMultipart(chunked(body, chunkSize), multipartBoundary(contentType)!, sub);
  return files.map((f) => ({ field: f.field, name: f.name, bytes: f.bytes, content: fs.readFileSync(f.path) }));
}

describe('multipart/form-data spooling', () => {
  it('writes each file part to disk, whatever the chunking', async () => {
    const binary = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 256));
    // Content that looks like a boundary but is not one.
    const tricky = '--\r\n--notboundary\r\n\r\n{"a": 1}\n';
    const { body, contentType } = await encode([
      { field: 'files', name: 'prompts.jsonl', content: '{"uid": "1", "prompt": "hi"}\n' },
      { field: 'files', name: 'dir/answers-a.jsonl.gz', content: binary },
      { field: 'other', name: 'tricky.jsonl', content: tricky },
      { field: 'empty', name: 'empty.jsonl', content: '' },
    ]);
    for (const size of [1, 3, 17, 64, 1000, body.length]) {
      const files = await spool(body, contentType, size);
      expect(files.map((f) => [f.field, f.name, f.bytes])).toEqual([
        ['files', 'prompts.jsonl', 29],
        ['files', 'answers-a.jsonl.gz', 5000],
        ['other', 'tricky.jsonl', Buffer.byteLength(tricky)],
        ['empty', 'empty.jsonl', 0],
      ]);
      expect(files[1]!.content.equals(binary)).toBe(true);
      expect(files[2]!.content.toString()).toBe(tricky);
    }
  });

  it('reads the boundary from the content type', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(multipartBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b:c"')).toBe('a b:c');
    expect(multipartBoundary('application/x-ndjson')).toBeNull();
    expect(multipartBoundary(null)).toBeNull();
    expect(() => multipartBoundary('multipart/form-data')).toThrow(/boundary/);
    expect(() => multipartBoundary('multipart/form-data; boundary=a"b')).toThrow(/boundary/);
    expect(() => multipartBoundary(`multipart/form-data; boundary=${'x'.repeat(71)}`)).toThrow(/boundary/);
  });

  it('refuses plain fields, truncated bodies and bodies without files', async () => {
    const form = new FormData();
    form.append('format', 'trl');
    const fields = new Response(form);
    const fieldsBody = Buffer.from(await fields.arrayBuffer());
    await expect(spool(fieldsBody, fields.headers.get('content-type')!, 10)).rejects.toThrow(/"format" is not a file/);

    const { body, contentType } = await encode([{ field: 'f', name: 'a.jsonl', content: 'x'.repeat(100) }]);
    await expect(spool(body.subarray(0, body.length - 10), contentType, 7)).rejects.toThrow(/ended before the closing boundary/);
    await expect(spool(Buffer.from('--b--\r\n'), 'multipart/form-data; boundary=b', 3)).rejects.toThrow(/no file parts/);
  });

  it('refuses too many parts, and stops when the body fails part-way', async () => {
    const many = await encode(Array.from({ length: 33 }, (_, i) => ({ field: 'files', name: `f${i}.jsonl`, content: 'x' })));
    await expect(spool(many.body, many.contentType, 50)).rejects.toThrow(/more than 32 parts/);
    const limit = await encode(Array.from({ length: 32 }, (_, i) => ({ field: 'files', name: `f${i}.jsonl`, content: 'x' })));
    expect(await spool(limit.body, limit.contentType, 50)).toHaveLength(32);

    const { body, contentType } = await encode([{ field: 'f', name: 'a.jsonl', content: 'x'.repeat(1000) }]);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield body.subarray(0, 500);
      throw new Error('connection reset');
    }
    const sub = fs.mkdtempSync(path.join(dir, 'run-'));
    await expect(spoolMultipart(failing(), multipartBoundary(contentType)!, sub)).rejects.toThrow('connection reset');
    expect(fs.readdirSync(sub)).toEqual(['part-0']);
  });
});
