import { z } from 'zod';
import { ZPromptInput, ZResponseContent } from '../content/schemas';

export const MAX_RESPONSES = 8;

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
    .min(2, 'a comparison needs at least two responses')
    // Two are judged as a pair, three to eight are ranked; more would not fit on a screen.
    .max(MAX_RESPONSES, `a comparison holds at most ${MAX_RESPONSES} responses`),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** A gold item: the canonical position (0 = first response) of the expected better response. */
  gold: z
    .object({
      choice: z.number().int().min(0).max(1),
      min_strength: z.enum(['significantly_better', 'better', 'slightly_better', 'marginally_better']).optional(),
    })
    .optional(),
});
export type TNativeComparisonLine = z.output<typeof ZNativeComparisonLine>;
