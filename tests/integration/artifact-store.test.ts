import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ArtifactStore } from '@/server/artifacts/s3-store';
import { artifactStoreFrom, localArtifactStore, type TArtifactStore } from '@/server/artifacts/store';
import { isAppError } from '@/server/errors';
import { startFakeS3, type TFakeS3 } from '../helpers/fake-s3';

// The SDK's default credential chain reads these; set before any client exists, so it never
// looks further (profiles, instance metadata).
process.env.AWS_ACCESS_KEY_ID = 'AKIAFAKEFAKEFAKE';
process.env.AWS_SECRET_ACCESS_KEY = 'fake-secret-key-for-tests';
process.env.AWS_EC2_METADATA_DISABLED = 'true';

const MiB = 1024 * 1024;

/** `total` bytes in `chunk`-sized pieces, strings and Buffers mixed; throws after `failAfter` bytes when set. */
async function* generated(total: number, chunk = 256 * 1024, options: { failAfter?: number; onYield?: (produced: number) => void } = {}): AsyncGenerator<string | Buffer> {
  let produced = 0;
  let i = 0;
  while (produced < total) {
    if (options.failAfter !== undefined && produced >= options.failAfter) throw new Error('the producer failed midway');
    const n = Math.min(chunk, total - produced);
    // A byte pattern that shifts with the position, so misplaced parts change the hash.
    const piece = i % 2 === 0 ? Buffer.alloc(n, i % 251) : 'é'.repeat(n / 2) + (n % 2 ? 'x' : '');
    produced += Buffer.byteLength(piece);
    i++;
    options.onYield?.(produced);
    yield piece;
  }
}

async function expectedDigest(total: number, chunk?: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of generated(total, chunk)) hash.update(piece);
  return hash.digest('hex');
}

async function readAll(store: TArtifactStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(key)) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface TStoreUnderTest {
  store: TArtifactStore;
  /** The URI the store must give for a key. */
  expectedUri(key: string): string;
  /** Nothing is left behind by a failed write: no partial files, no open multipart uploads. */
  leftovers(): string[];
}

/** The behaviour every artifact store must have; run against the local folder and against S3. */
function artifactStoreContract(name: string, setup: () => Promise<TStoreUnderTest>) {
  describe(`${name} artifact store`, () => {
    let s: TStoreUnderTest;
    beforeAll(async () => {
      s = await setup();
    });

    it('streams a write larger than one multipart part from an async generator and reads it back', async () => {
      const total = 12 * MiB + 12_345;
      const written = await s.store.write('big/data.bin', generated(total));
      expect(written).toEqual({ bytes: total });
      expect(await s.store.size('big/data.bin')).toBe(total);
      const back = await readAll(s.store, 'big/data.bin');
      expect(back.length).toBe(total);
      expect(sha256(back)).toBe(await expectedDigest(total));
    });

    it('writes an empty artifact', async () => {
      expect(await s.store.write('empty/zero.jsonl', generated(0))).toEqual({ bytes: 0 });
      expect(await s.store.size('empty/zero.jsonl')).toBe(0);
      expect((await readAll(s.store, 'empty/zero.jsonl')).length).toBe(0);
    });

    it('replaces an artifact on a second write', async () => {
      await s.store.write('replace/a.jsonl', once('first\n'));
      await s.store.write('replace/a.jsonl', once('second, longer\n'));
      expect((await readAll(s.store, 'replace/a.jsonl')).toString()).toBe('second, longer\n');
      expect(await s.store.size('replace/a.jsonl')).toBe(15);
    });

    it('lists keys with sizes by string prefix, in key order', async () => {
      await s.store.write('listing/b.jsonl', once('bb'));
      await s.store.write('listing/a.jsonl', once('a'));
      await s.store.write('listing/a/nested.parquet', once('nested'));
      await s.store.write('listing-other/x.jsonl', once('xxx'));
      expect(await s.store.list('listing/')).toEqual([
        { key: 'listing/a.jsonl', bytes: 1 },
        { key: 'listing/a/nested.parquet', bytes: 6 },
        { key: 'listing/b.jsonl', bytes: 2 },
      ]);
      expect((await s.store.list('listing/a')).map((e) => e.key)).toEqual(['listing/a.jsonl', 'listing/a/nested.parquet']);
      expect((await s.store.list('listing')).map((e) => e.key)).toEqual(['listing-other/x.jsonl', 'listing/a.jsonl', 'listing/a/nested.parquet', 'listing/b.jsonl']);
      expect(await s.store.list('no-such-prefix/')).toEqual([]);
      const all = (await s.store.list('')).map((e) => e.key);
      expect(all).toEqual([...all].sort());
      expect(all).toContain('big/data.bin');
    });

    it('deletes an artifact; deleting a missing one is not an error', async () => {
      await s.store.write('gone/soon.jsonl', once('x'));
      await s.store.delete('gone/soon.jsonl');
      expect(await s.store.size('gone/soon.jsonl')).toBeNull();
      expect(await s.store.list('gone/')).toEqual([]);
      await expect(s.store.delete('gone/soon.jsonl')).resolves.toBeUndefined();
    });

    it('answers a missing key with a null size and a NOT_FOUND error that names it', async () => {
      expect(await s.store.size('missing/nothing.jsonl')).toBeNull();
      const error = await s.store.read('missing/nothing.jsonl').then(
        () => null,
        (e: unknown) => e,
      );
      expect(isAppError(error) && error.code).toBe('NOT_FOUND');
      expect((error as Error).message).toBe('no artifact missing/nothing.jsonl');
    });

    it('leaves no artifact when the producer fails midway, and keeps the previous one', async () => {
      await expect(s.store.write('failed/new.bin', generated(14 * MiB, 512 * 1024, { failAfter: 11 * MiB }))).rejects.toThrow('the producer failed midway');
      expect(await s.store.size('failed/new.bin')).toBeNull();
      expect(await s.store.list('failed/')).toEqual([]);

      await s.store.write('failed/kept.jsonl', once('previous\n'));
      await expect(s.store.write('failed/kept.jsonl', generated(8 * MiB, 512 * 1024, { failAfter: 6 * MiB }))).rejects.toThrow('the producer failed midway');
      expect((await readAll(s.store, 'failed/kept.jsonl')).toString()).toBe('previous\n');
      expect(s.leftovers()).toEqual([]);
    });

    it('refuses keys that could escape the store', async () => {
      for (const key of ['../outside', '/absolute', 'a/../../b', '', 'trailing/', 'double//slash', ' space']) {
        await expect(s.store.write(key, once('x')), key).rejects.toThrow('invalid artifact key');
        await expect(s.store.size(key), key).rejects.toThrow('invalid artifact key');
      }
      await expect(s.store.list('../')).rejects.toThrow('invalid artifact prefix');
    });

    it('gives each artifact a URI other machines can read it from', () => {
      expect(s.store.uri('datasets/3/pairs.jsonl')).toBe(s.expectedUri('datasets/3/pairs.jsonl'));
    });
  });
}

let localRoot: string;
let fake: TFakeS3;
const s3Config = () => ({ bucket: fake.bucket, prefix: 'team/pairwise', endpoint: fake.endpoint, partSize: 5 * MiB, queueSize: 2 });

beforeAll(async () => {
  localRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-artifacts-'));
  // Small listing pages, so listing follows continuation tokens.
  fake = await startFakeS3({ maxKeys: 2 });
});

afterAll(async () => {
  await fake?.close();
  fs.rmSync(localRoot, { recursive: true, force: true });
});

artifactStoreContract('local', async () => ({
  store: localArtifactStore(localRoot),
  expectedUri: (key) => pathToFileURL(path.join(localRoot, key)).href,
  leftovers: () => fs.readdirSync(localRoot, { recursive: true }).map(String).filter((f) => f.endsWith('.partial')),
}));

artifactStoreContract('S3', async () => ({
  store: s3ArtifactStore(s3Config()),
  expectedUri: (key) => `s3://${fake.bucket}/team/pairwise/${key}`,
  leftovers: () => (fake.openUploads() > 0 ? [`${fake.openUploads()} open multipart upload(s)`] : []),
}));

describe('S3 artifact store over the S3 protocol', () => {
  it('keeps objects under the prefix, uploads large writes in parts and aborts failed ones', async () => {
    const store = s3ArtifactStore(s3Config());
    const before = fake.requests.length;
    await store.write('proto/big.bin', generated(11 * MiB));
    await store.write('proto/small.jsonl', once('{"a":1}\n'));
    await store.write('proto/broken.bin', generated(12 * MiB, 512 * 1024, { failAfter: 10 * MiB })).catch(() => {});
    const ops = fake.requests.slice(before).map((r) => `${r.operation} ${r.key}`);
    expect(ops.filter((o) => o.endsWith('team/pairwise/proto/big.bin'))).toEqual([
      'CreateMultipartUpload team/pairwise/proto/big.bin',
      'UploadPart team/pairwise/proto/big.bin',
      'UploadPart team/pairwise/proto/big.bin',
      'UploadPart team/pairwise/proto/big.bin',
      'CompleteMultipartUpload team/pairwise/proto/big.bin',
    ]);
    // Below one part: a single PutObject, with the media type of its extension.
    expect(ops).toContain('PutObject team/pairwise/proto/small.jsonl');
    expect(fake.objects.get('team/pairwise/proto/small.jsonl')?.contentType).toBe('application/x-ndjson');
    expect(ops).toContain('AbortMultipartUpload team/pairwise/proto/broken.bin');
    expect(ops).not.toContain('CompleteMultipartUpload team/pairwise/proto/broken.bin');
    expect(fake.openUploads()).toBe(0);
    expect(fake.objects.has('team/pairwise/proto/broken.bin')).toBe(false);
  });

  it('buffers a bounded amount however long the stream: the producer waits for the uploads', async () => {
    const store = s3ArtifactStore(s3Config());
    let ahead = 0;
    const total = 40 * MiB;
    await store.write('proto/stream.bin', generated(total, MiB, { onYield: (produced) => (ahead = Math.max(ahead, produced - fake.receivedBytes('team/pairwise/proto/stream.bin'))) }));
    expect(await store.size('proto/stream.bin')).toBe(total);
    // queueSize 2 parts in flight, one being filled, and the stream's own buffer: far from 40 MiB.
    expect(ahead).toBeLessThanOrEqual(4 * 5 * MiB);
  });

  it('refuses requests without an AWS Signature Version 4 Authorization header', async () => {
    const response = await fetch(`${fake.endpoint}/${fake.bucket}/team/pairwise/proto/small.jsonl`);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('<Code>AccessDenied</Code>');
    const signed = fake.requests.filter((r) => r.operation !== 'error');
    expect(signed.length).toBeGreaterThan(0);
  });

  it('reports S3 errors other than a missing key as they are (a wrong bucket)', async () => {
    const store = s3ArtifactStore({ ...s3Config(), bucket: 'no-such-bucket' });
    await expect(store.read('x.jsonl')).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(store.list('')).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(store.write('x.jsonl', once('x'))).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('takes credentials from the default chain and a client can be given instead', async () => {
    const client = new S3Client({ endpoint: fake.endpoint, region: 'eu-west-3', forcePathStyle: true, credentials: { accessKeyId: 'given', secretAccessKey: 'given-secret' } });
    const store = s3ArtifactStore({ bucket: fake.bucket, client });
    await store.write('given/client.jsonl', once('x\n'));
    expect(fake.objects.has('given/client.jsonl')).toBe(true);
    expect(store.uri('given/client.jsonl')).toBe(`s3://${fake.bucket}/given/client.jsonl`);
  });
});

describe('the configured store', () => {
  it('is S3 when PAIRWISE_S3_BUCKET is set, else the local folder', async () => {
    const local = artifactStoreFrom({ PAIRWISE_S3_BUCKET: undefined, PAIRWISE_S3_PREFIX: undefined, PAIRWISE_S3_ENDPOINT: undefined, PAIRWISE_S3_REGION: undefined, PAIRWISE_S3_FORCE_PATH_STYLE: undefined }, localRoot);
    expect(local.uri('a.jsonl')).toBe(pathToFileURL(path.join(localRoot, 'a.jsonl')).href);

    const s3 = artifactStoreFrom({ PAIRWISE_S3_BUCKET: fake.bucket, PAIRWISE_S3_PREFIX: '/env-prefix/', PAIRWISE_S3_ENDPOINT: fake.endpoint, PAIRWISE_S3_REGION: undefined, PAIRWISE_S3_FORCE_PATH_STYLE: undefined });
    expect(s3.uri('a.jsonl')).toBe(`s3://${fake.bucket}/env-prefix/a.jsonl`);
    // Path style by default with a custom endpoint, and a default region: the fake only speaks path style.
    await s3.write('a.jsonl', once('from env\n'));
    expect(fake.objects.get('env-prefix/a.jsonl')?.body.toString()).toBe('from env\n');
  });
});
