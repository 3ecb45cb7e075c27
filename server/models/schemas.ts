import { z } from 'zod';

/** The name of an environment variable (the API key's holder), never the key itself. */
export const ZEnvVarName = z.string().trim().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as OPENAI_API_KEY (upper-case letters, digits, underscores)');

function isHttpUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol);
  } catch {
    return false; // reported by .url()
  }
}

export const ZSampling = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().min(0).max(1).optional(),
    max_tokens: z.number().int().min(1).max(32768).optional(),
  })
  .strict();

export const ZRegisterModel = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(100),
  baseUrl: z
    .string()
    .trim()
    .url('must be a URL such as http://gpu-1:8000/v1')
    .refine(isHttpUrl, 'must be an http or https URL'),
  apiModel: z.string().trim().min(1, 'must not be empty').max(200),
  apiKeyEnv: ZEnvVarName.optional(),
  sampling: ZSampling.default({}),
});
export type TRegisterModel = z.input<typeof ZRegisterModel>;

export const ZSetProjectModels = z.object({
  projectId: z.number().int().positive(),
  modelIds: z.array(z.number().int().positive()).max(100),
});
