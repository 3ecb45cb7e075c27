import { z } from 'zod';
import { ZPromptInput, ZResponseContent } from '../content/schemas';

/**
 * One line of the native import format:
 * {"id"?: string, "prompt": string | [messages], "responses": [{"content": string | [messages], "model"?: string}], "metadata"?: {}}
 */
export const ZNativeComparisonLine = z.object({
  id: z.union([z.string().min(1, 'must not be empty').max(200), z.number().int().transform(String)]).optional(),
  prompt: ZPromptInput,
  responses: z
    .array(
      z.object({
        content: ZResponseContent,
        model: z.string().max(200).optional(),
      }),
    )
    .min(2, 'a comparison needs two responses')
    // Ranking of more than two responses is not in the annotation protocol yet; reject rather than drop.
    .max(2, 'comparisons of more than two responses are not supported yet'),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type TNativeComparisonLine = z.output<typeof ZNativeComparisonLine>;
