import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { artifactNotFound, assertKey, assertPrefix, contentTypeOf } from './keys';
import type { TArtifactEntry, TArtifactStore, TS3Location } from './store';

export interface TS3StoreConfig {
  bucket: string;
  /** Keys live under this prefix in the bucket ("pairwise/" -> s3://bucket/pairwise/exports/...). */
  prefix?: string;
  /** An S3-compatible endpoint (MinIO, Cloudflare R2, Ceph, ...); AWS S3 when unset. */
  endpoint?: string;
  /** The bucket's region; the SDK's default (AWS_REGION, profile) when unset, us-east-1 with a custom endpoint. */
  region?: string;
  /** Bucket in the path instead of the host name; on by default with a custom endpoint. */
  forcePathStyle?: boolean;
  /** Multipart part size in bytes (at least 5 MiB): memory per upload is about partSize x (queueSize + 1). */
  partSize?: number;
  /** Parts uploaded at once. */
  queueSize?: number;
  /** A ready client (tests); credentials otherwise come from the SDK's default chain, never from us. */
  client?: S3Client;
}

const minPartSize = 5 * 1024 * 1024;
// 10,000 parts of 8 MiB: objects up to 78 GiB.
const defaultPartSize = 8 * 1024 * 1024;

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed ? `${trimmed}/` : '';
}

// GetObject says NoSuchKey; HeadObject has no body, so the SDK names its 404 NotFound. A wrong
// bucket (NoSuchBucket) is a configuration error and must not pass for a missing artifact; a HEAD
// cannot tell the two apart, so `size` of anything in a wrong bucket is null.
function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'NoSuchKey' || name === 'NotFound';
}

/**
 * Artifacts as objects in an S3-compatible bucket. Writes stream through multipart uploads of
 * unknown length (bounded memory); S3 publishes an object only when its upload completes, and a
 * failed write aborts the multipart upload, so readers never see a partial artifact.
 */
export function s3ArtifactStore(config: TS3StoreConfig): TArtifactStore & { client: S3Client; s3: TS3Location } {
  const bucket = config.bucket;
  const base = normalizePrefix(config.prefix);
  const partSize = config.partSize ?? defaultPartSize;
  if (partSize < minPartSize) throw new Error(`S3 multipart parts must be at least 5 MiB, not ${partSize} bytes`);
  const location: TS3Location = {
    bucket,
    endpoint: config.endpoint,
    region: config.region ?? (config.endpoint ? 'us-east-1' : undefined),
    forcePathStyle: config.forcePathStyle ?? Boolean(config.endpoint),
  };
  const client =
    config.client ??
    new S3Client({
      endpoint: location.endpoint,
      region: location.region,
      forcePathStyle: location.forcePathStyle,
      // Checksums only where S3 requires them: several S3-compatible stores reject the
      // CRC headers and trailers that newer SDKs add by default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  const objectKey = (key: string) => {
    assertKey(key);
    return `${base}${key}`;
  };

  return {
    client,
    s3: location,
    async write(key, body) {
      let bytes = 0;
      async function* counted(): AsyncGenerator<Buffer> {
        for await (const chunk of body) {
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          bytes += buffer.length;
          if (buffer.length > 0) yield buffer;
        }
      }
      const source = Readable.from(counted(), { objectMode: false });
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: objectKey(key), Body: source, ContentType: contentTypeOf(key) },
        partSize,
        queueSize: config.queueSize ?? 4,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } finally {
        // Releases the producer (e.g. a database cursor) when the upload stopped early.
        source.destroy();
      }
      return { bytes };
    },
    async read(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        if (!(out.Body instanceof Readable)) throw new Error(`S3 returned no stream for ${key}`);
        return out.Body;
      } catch (error) {
        if (isNotFound(error)) throw artifactNotFound(key);
        throw error;
      }
    },
    async size(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        return head.ContentLength ?? 0;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async list(prefix) {
      assertPrefix(prefix);
      const out: TArtifactEntry[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${base}${prefix}`, ContinuationToken: token }));
        for (const object of page.Contents ?? []) {
          if (object.Key?.startsWith(base)) out.push({ key: object.Key.slice(base.length), bytes: object.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    },
    uri(key) {
      return `s3://${bucket}/${objectKey(key)}`;
    },
  };
}
