import { z } from 'zod';

/** How long one user message of a live conversation may be (characters). */
export const MAX_LIVE_MESSAGE_CHARS = 100_000;

export const ZUserMessage = z.string().trim().min(1, 'write a message first').max(MAX_LIVE_MESSAGE_CHARS, `must be at most ${MAX_LIVE_MESSAGE_CHARS} characters`);

export const ZStartTurn = z.object({
  projectId: z.number().int().positive(),
  annotatorId: z.number().int().positive(),
  userMessage: ZUserMessage,
  /** The judged turn this message continues; absent for a new conversation. */
  parentTurnId: z.number().int().positive().optional(),
});
export type TStartTurn = z.input<typeof ZStartTurn>;

export const ZSide = z.union([z.literal(0), z.literal(1)]);
export type TSide = z.infer<typeof ZSide>;
