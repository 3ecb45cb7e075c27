import path from 'node:path';
import { z } from 'zod';

/** An empty or blank value counts as unset (`PAIRWISE_S3_ENDPOINT=` in a compose file). */
function blankAsUndefined<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v), schema);
}

/** A rate limit: `<requests>/<seconds>`, e.g. `10/60`; `off` for none. */
const ZRateLimit = z
  .string()
  .regex(/^(off|[1-9]\d*\/[1-9]\d*)$/, 'must be <requests>/<seconds>, e.g. 10/60, or off')
  .transform((v) => {
    if (v === 'off') return null;
    const [limit, windowS] = v.split('/').map(Number) as [number, number];
    return { limit, windowS };
  });
export type TRateLimit = { limit: number; windowS: number };

/**
 * Every environment variable Pairwise reads, validated in one place.
 * Parsed lazily so that `next build` and unit tests do not need a database URL.
 */
const ZEnv = z.object({
  DATABASE_URL: z.string().url().optional(),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  AUTH_SECRET: z.string().min(16).optional(),
  PAIRWISE_DATA_DIR: z.string().default('.data'),
  PAIRWISE_ARTIFACTS_DIR: z.string().optional(),
  /**
   * S3-compatible artifact storage (AWS S3, MinIO, Cloudflare R2, ...), used instead of the local
   * folder when a bucket is set. Credentials come from the AWS SDK's default chain
   * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance or pod roles); Pairwise never stores them.
   */
  PAIRWISE_S3_BUCKET: blankAsUndefined(z.string().optional()),
  /** Key prefix inside the bucket, e.g. `pairwise/`. */
  PAIRWISE_S3_PREFIX: blankAsUndefined(z.string().optional()),
  /** Endpoint of a non-AWS service, e.g. http://minio:9000; path-style addressing is then on by default. */
  PAIRWISE_S3_ENDPOINT: blankAsUndefined(z.string().url().optional()),
  /** The bucket's region; else AWS_REGION or the profile's, or us-east-1 with a custom endpoint. */
  PAIRWISE_S3_REGION: blankAsUndefined(z.string().optional()),
  PAIRWISE_S3_FORCE_PATH_STYLE: blankAsUndefined(z.enum(['0', '1', 'false', 'true']).optional()).transform((v) => (v === undefined ? undefined : v === '1' || v === 'true')),
  PAIRWISE_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(1_000_000),
  /** Largest /api/trpc request body (413 above it); unset: derived from PAIRWISE_MAX_MESSAGE_BYTES (server/trpc-http.ts). */
  PAIRWISE_MAX_TRPC_BODY_BYTES: blankAsUndefined(z.coerce.number().int().positive().optional()),
  /** Imports: the longest line of a file (default: 16 messages of the largest size, for a prompt and several responses on one line). */
  PAIRWISE_MAX_LINE_BYTES: blankAsUndefined(z.coerce.number().int().positive().optional()),
  /** Imports through the web routes: the most bytes of one request body, and of its text after gunzip. */
  PAIRWISE_MAX_IMPORT_BYTES: z.coerce.number().int().positive().default(2 * 1024 ** 3),
  /** Live generation: longest wait for a model's first byte, and between two chunks of its answer. */
  PAIRWISE_LIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  CHROMIUM_PATH: z.string().default('/usr/bin/chromium'),
  /** Token statistics: a local folder with tokenizer.json and tokenizer_config.json, or a hub model id (needs remote models). */
  PAIRWISE_TOKENIZER: z
    .string()
    .optional()
    .transform((v) => v?.trim() || undefined),
  /** Semantic dedup: a local folder with a feature-extraction ONNX model, or a hub model id (needs remote models). */
  PAIRWISE_EMBEDDING_MODEL: z
    .string()
    .optional()
    .transform((v) => v?.trim() || undefined),
  /** Lets transformers.js download from the Hugging Face hub; off by default (offline machines). */
  PAIRWISE_ALLOW_REMOTE_MODELS: z.enum(['0', '1', 'false', 'true']).default('0').transform((v) => v === '1' || v === 'true'),
  /**
   * How many reverse proxies in front of the web app append to X-Forwarded-For (0: none, the
   * header is the client's own word). The client's address is the entry that many from the right.
   */
  PAIRWISE_TRUST_PROXY: blankAsUndefined(z.coerce.number().int().min(0).max(10).default(0)),
  /** Password hashes (argon2, 19 MiB each) computed at once per process, and how many more may wait. */
  PAIRWISE_MAX_CONCURRENT_HASHES: z.coerce.number().int().positive().default(2),
  PAIRWISE_MAX_QUEUED_HASHES: z.coerce.number().int().min(0).default(16),
  /** Failed sign-ins before an account, or a client address, is locked out for a while. */
  PAIRWISE_SIGNIN_ACCOUNT_FAILURES: z.coerce.number().int().positive().default(5),
  PAIRWISE_SIGNIN_ADDRESS_FAILURES: z.coerce.number().int().positive().default(50),
  /** The first lock-out; each further failure doubles it, up to the longest. */
  PAIRWISE_SIGNIN_LOCK_S: z.coerce.number().positive().default(30),
  PAIRWISE_SIGNIN_MAX_LOCK_S: z.coerce.number().positive().default(900),
  /** After this long without a failure, the count starts over. */
  PAIRWISE_SIGNIN_FORGET_S: z.coerce.number().positive().default(3600),
  /** Per-user rate limits, `<requests>/<seconds>` or `off` (see docs/security.md). */
  PAIRWISE_RATE_LIMIT_EXPORTS: blankAsUndefined(ZRateLimit.prefault('10/60')),
  PAIRWISE_RATE_LIMIT_DOWNLOADS: blankAsUndefined(ZRateLimit.prefault('60/60')),
  PAIRWISE_RATE_LIMIT_DATASET_BUILDS: blankAsUndefined(ZRateLimit.prefault('6/60')),
  PAIRWISE_RATE_LIMIT_STATS: blankAsUndefined(ZRateLimit.prefault('120/60')),
  PAIRWISE_RATE_LIMIT_LIVE_TURNS: blankAsUndefined(ZRateLimit.prefault('30/60')),
});
export type TEnv = z.infer<typeof ZEnv>;

let cached: TEnv | undefined;

export function env(): TEnv {
  if (!cached) {
    const parsed = ZEnv.safeParse(process.env);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new Error(`Invalid environment: ${problems}`);
    }
    cached = parsed.data;
  }
  return cached;
}

// The turbopackIgnore hints keep Next.js from tracing the whole project into the build
// because of a path only known at run time.
export function dataDir(): string {
  return path.resolve(/* turbopackIgnore: true */ process.cwd(), env().PAIRWISE_DATA_DIR);
}

export function artifactsDir(): string {
  const configured = env().PAIRWISE_ARTIFACTS_DIR;
  return configured ? path.resolve(/* turbopackIgnore: true */ process.cwd(), configured) : path.join(dataDir(), 'artifacts');
}
