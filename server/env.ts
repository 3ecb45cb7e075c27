import path from 'node:path';
import { z } from 'zod';

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
