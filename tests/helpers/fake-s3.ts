import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An S3 stand-in that speaks the REST protocol over HTTP, path-style (`/bucket/key`):
 * PutObject, GetObject, HeadObject, DeleteObject, ListObjectsV2, and multipart uploads
 * (Create, UploadPart, Complete, Abort). Signatures are not verified, but every request must
 * carry an AWS4-HMAC-SHA256 Authorization header, and a signed payload hash must match the body.
 */
export interface TFakeS3 {
  endpoint: string;
  bucket: string;
  objects: Map<string, { body: Buffer; etag: string; contentType: string | undefined; lastModified: Date }>;
  /** Multipart uploads neither completed nor aborted. */
  openUploads(): number;
  /** Every request: method, key ('' for the bucket) and the S3 operation. */
  requests: { method: string; key: string; operation: string }[];
  /** Bytes of the parts received so far, by key (for watching a streamed upload's progress). */
  receivedBytes(key: string): number;
  close(): Promise<void>;
}

const xmlHeader = '<?xml version="1.0" encoding="UTF-8"?>\n';
const ns = 'http://s3.amazonaws.com/doc/2006-03-01/';
const minPartSize = 5 * 1024 * 1024;

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeS3(options: { bucket?: string; maxKeys?: number } = {}): Promise<TFakeS3> {
  const bucket = options.bucket ?? 'pairwise-test';
  const pageLimit = options.maxKeys ?? 1000;
  const objects: TFakeS3['objects'] = new Map();
  const uploads = new Map<string, { key: string; parts: Map<number, { body: Buffer; etag: string }>; contentType: string | undefined }>();
  const requests: TFakeS3['requests'] = [];

  const send = (res: http.ServerResponse, status: number, body = '', headers: Record<string, string> = {}) => {
    res.writeHead(status, { ...(body ? { 'content-type': 'application/xml' } : {}), 'x-amz-request-id': randomUUID(), ...headers });
    res.end(body);
  };

  const readBody = (req: http.IncomingMessage) =>
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<string> {
    const url = new URL(req.url ?? '/', 'http://fake-s3');
    const q = url.searchParams;
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const method = req.method ?? 'GET';

    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('AWS4-HMAC-SHA256 Credential=') || !req.headers['x-amz-date']) {
      throw new S3Error(403, 'AccessDenied', 'Requests must be signed with AWS Signature Version 4');
    }
    if (bucketName !== bucket) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');

    const payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
    if (payloadHash.startsWith('STREAMING-')) throw new S3Error(501, 'NotImplemented', 'aws-chunked uploads are not supported here');
    const body = await readBody(req);
    if (/^[0-9a-f]{64}$/.test(payloadHash) && createHash('sha256').update(body).digest('hex') !== payloadHash) {
      throw new S3Error(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed');
    }

    if (key === '') {
      if (method === 'GET' && q.get('list-type') === '2') {
        const prefix = q.get('prefix') ?? '';
        const maxKeys = Math.min(Number(q.get('max-keys') ?? pageLimit), pageLimit);
        const after = q.get('continuation-token') ? Buffer.from(q.get('continuation-token')!, 'base64url').toString() : (q.get('start-after') ?? '');
        const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
        const page = keys.slice(0, maxKeys);
        const truncated = keys.length > page.length;
        const encode = q.get('encoding-type') === 'url' ? (s: string) => encodeURIComponent(s).replace(/%2F/g, '/') : (s: string) => s;
        const contents = page
          .map((k) => {
            const o = objects.get(k)!;
            return `<Contents><Key>${escapeXml(encode(k))}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>&quot;${o.etag}&quot;</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
          })
          .join('');
        const next = truncated ? `<NextContinuationToken>${Buffer.from(page.at(-1)!).toString('base64url')}</NextContinuationToken>` : '';
        const tokenEcho = q.get('continuation-token') ? `<ContinuationToken>${escapeXml(q.get('continuation-token')!)}</ContinuationToken>` : '';
        send(
          res,
          200,
          `${xmlHeader}<ListBucketResult xmlns="${ns}"><Name>${bucket}</Name><Prefix>${escapeXml(encode(prefix))}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
            `${q.get('encoding-type') === 'url' ? '<EncodingType>url</EncodingType>' : ''}<IsTruncated>${truncated}</IsTruncated>${tokenEcho}${contents}${next}</ListBucketResult>`,
        );
        return 'ListObjectsV2';
      }
      throw new S3Error(501, 'NotImplemented', `${method} on a bucket is not supported here`);
    }

    if (method === 'POST' && q.has('uploads')) {
      const uploadId = randomUUID();
      uploads.set(uploadId, { key, parts: new Map(), contentType: req.headers['content-type'] });
      send(res, 200, `${xmlHeader}<InitiateMultipartUploadResult xmlns="${ns}"><Bucket>${bucket}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`);
      return 'CreateMultipartUpload';
    }

    const uploadId = q.get('uploadId');
    if (uploadId !== null) {
      const upload = uploads.get(uploadId);
      if (!upload || upload.key !== key) throw new S3Error(404, 'NoSuchUpload', 'The specified multipart upload does not exist');
      if (method === 'PUT' && q.has('partNumber')) {
        const partNumber = Number(q.get('partNumber'));
        if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) throw new S3Error(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000');
        const etag = md5(body);
        upload.parts.set(partNumber, { body, etag });
        send(res, 200, '', { etag: `"${etag}"` });
        return 'UploadPart';
      }
      if (method === 'POST') {
        const listed = [...body.toString('utf8').matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map(([, part]) => ({
          number: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(part!)?.[1]),
          etag: (/<ETag>([\s\S]*?)<\/ETag>/.exec(part!)?.[1] ?? '').replace(/&quot;|"/g, ''),
        }));
        if (listed.length === 0) throw new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed');
        const chosen = listed.map((p, i) => {
          const part = upload.parts.get(p.number);
          if (!part || part.etag !== p.etag) throw new S3Error(400, 'InvalidPart', `part ${p.number} was not uploaded or its ETag does not match`);
          if (i > 0 && p.number <= listed[i - 1]!.number) throw new S3Error(400, 'InvalidPartOrder', 'The list of parts was not in ascending order');
          if (i < listed.length - 1 && part.body.length < minPartSize) throw new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size');
          return part;
        });
        const whole = Buffer.concat(chosen.map((p) => p.body));
        const etag = `${md5(Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex'))))}-${chosen.length}`;
        objects.set(key, { body: whole, etag, contentType: upload.contentType, lastModified: new Date() });
        uploads.delete(uploadId);
        send(
          res,
          200,
          `${xmlHeader}<CompleteMultipartUploadResult xmlns="${ns}"><Location>http://fake-s3/${bucket}/${escapeXml(key)}</Location><Bucket>${bucket}</Bucket><Key>${escapeXml(key)}</Key><ETag>&quot;${etag}&quot;</ETag></CompleteMultipartUploadResult>`,
        );
        return 'CompleteMultipartUpload';
      }
      if (method === 'DELETE') {
        uploads.delete(uploadId);
        send(res, 204);
        return 'AbortMultipartUpload';
      }
      throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource');
    }

    const object = objects.get(key);
    switch (method) {
      case 'PUT': {
        if (req.headers['x-amz-copy-source']) throw new S3Error(501, 'NotImplemented', 'CopyObject is not supported here');
        const etag = md5(body);
        objects.set(key, { body, etag, contentType: req.headers['content-type'], lastModified: new Date() });
        send(res, 200, '', { etag: `"${etag}"` });
        return 'PutObject';
      }
      case 'GET':
      case 'HEAD': {
        if (!object) {
          if (method === 'HEAD') {
            send(res, 404);
            return 'HeadObject';
          }
          throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.');
        }
        res.writeHead(200, {
          'content-length': String(object.body.length),
          'content-type': object.contentType ?? 'binary/octet-stream',
          etag: `"${object.etag}"`,
          'last-modified': object.lastModified.toUTCString(),
          'accept-ranges': 'bytes',
        });
        res.end(method === 'GET' ? object.body : undefined);
        return method === 'GET' ? 'GetObject' : 'HeadObject';
      }
      case 'DELETE':
        objects.delete(key);
        send(res, 204);
        return 'DeleteObject';
      default:
        throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource');
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake-s3');
    const key = url.pathname.split('/').slice(2).map(decodeURIComponent).join('/');
    handle(req, res).then(
      (operation) => requests.push({ method: req.method ?? '', key, operation }),
      (error: unknown) => {
        requests.push({ method: req.method ?? '', key, operation: 'error' });
        const e = error instanceof S3Error ? error : new S3Error(500, 'InternalError', (error as Error).message);
        // Drain what the client still sends so it reads the error instead of a reset connection.
        req.resume();
        send(res, e.status, req.method === 'HEAD' ? '' : `${xmlHeader}<Error><Code>${e.code}</Code><Message>${escapeXml(e.message)}</Message><RequestId>${randomUUID()}</RequestId></Error>`);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    objects,
    requests,
    openUploads: () => uploads.size,
    receivedBytes: (key) => {
      let n = 0;
      for (const u of uploads.values()) if (u.key === key) for (const p of u.parts.values()) n += p.body.length;
      return n + (objects.get(key)?.body.length ?? 0);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
