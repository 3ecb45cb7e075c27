import path from 'node:path';
import { z } from 'zod';

/** An empty or blank value counts as unset (`PAIRWISE_S3_ENDPOINT=` in a compose file). */
function blankAsUndefined<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v), schema);
}

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
