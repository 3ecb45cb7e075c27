import { z } from 'zod';
import { forbiddenApiKeyMessage, isForbiddenApiKeyVariable } from '../secret-names';

/** The name of an environment variable (the API key's holder), never the key itself, and never one of Pairwise's own. */
export const ZEnvVarName = z
  .string()
  .trim()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as OPENAI_API_KEY (upper-case letters, digits, underscores)')
  .refine((name) => !isForbiddenApiKeyVariable(name), forbiddenApiKeyMessage);

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

export const modelKinds = ['policy', 'reward'] as const;
export const modelServings = ['openai', 'vllm-classify', 'onnx-local', 'none'] as const;

/**
 * A registry entry. Policies are reached through an OpenAI-compatible /chat/completions endpoint
 * (serving 'openai'); reward models through vLLM's /classify ('vllm-classify') or a local ONNX
 * folder ('onnx-local', artifactUri); a checkpoint nobody serves yet is 'none'. The endpoint
 * fields are required exactly when the model is reached over HTTP.
 */
export const ZRegisterModel = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(100),
    kind: z.enum(modelKinds).default('policy'),
    serving: z.enum(modelServings).default('openai'),
    baseUrl: z
      .string()
      .trim()
      .url('must be a URL such as http://gpu-1:8000/v1')
      .refine(isHttpUrl, 'must be an http or https URL')
      .optional(),
    apiModel: z.string().trim().min(1, 'must not be empty').max(200).optional(),
    apiKeyEnv: ZEnvVarName.optional(),
    sampling: ZSampling.default({}),
    /** Where the weights are: s3://..., file://..., a local folder (onnx-local) or a hub id. */
    artifactUri: z.string().trim().min(1).max(2000).optional(),
    /** What it was trained from: a hub id or another entry's artifact. */
    baseModel: z.string().trim().min(1).max(500).optional(),
  })
  .superRefine((m, ctx) => {
    const http = m.serving === 'openai' || m.serving === 'vllm-classify';
    if (http && !m.baseUrl) ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: `is required when serving is ${m.serving}` });
    if (http && !m.apiModel) ctx.addIssue({ code: 'custom', path: ['apiModel'], message: `is required when serving is ${m.serving}` });
    if (m.serving === 'onnx-local' && !m.artifactUri) ctx.addIssue({ code: 'custom', path: ['artifactUri'], message: 'is required when serving is onnx-local (the model folder)' });
    if (m.kind === 'policy' && (m.serving === 'vllm-classify' || m.serving === 'onnx-local')) {
      ctx.addIssue({ code: 'custom', path: ['serving'], message: 'a policy is served through an OpenAI-compatible endpoint (openai) or not at all (none)' });
    }
    if (m.kind === 'reward' && m.serving === 'openai') ctx.addIssue({ code: 'custom', path: ['serving'], message: 'a reward model is served through vllm-classify or onnx-local, or none' });
  });
export type TRegisterModel = z.input<typeof ZRegisterModel>;

export const ZSetProjectModels = z.object({
  projectId: z.number().int().positive(),
  modelIds: z.array(z.number().int().positive()).max(100),
});
