import { z } from 'zod';
import { ZStrength } from '../annotation/schemas';

export const reviewDecisions = ['accept', 'reject', 'correct'] as const;
export const ZReviewDecision = z.enum(reviewDecisions);
export type TReviewDecision = z.infer<typeof ZReviewDecision>;

/** The fields of a review, without the cross-field rules (so routers can extend it). */
export const ZReviewFields = z.object({
  judgmentId: z.number().int().positive(),
  decision: ZReviewDecision,
  /** Corrections: canonical position (0 = first response) of the better response. */
  correctedChoice: z.number().int().min(0).max(1).optional(),
  correctedStrength: ZStrength.optional(),
  note: z.string().trim().max(2000).optional(),
});

/** A reviewer's decision: a correction carries a choice and a strength; accept and reject carry neither. */
export const ZSubmitReview = ZReviewFields.superRefine((v, ctx) => {
  if (v.decision === 'correct') {
    if (v.correctedChoice === undefined) ctx.addIssue({ code: 'custom', path: ['correctedChoice'], message: 'a correction needs the better response (0 = first, 1 = second)' });
    else if (v.correctedStrength === undefined) ctx.addIssue({ code: 'custom', path: ['correctedStrength'], message: 'a correction needs the strength of the preference' });
  } else {
    if (v.correctedChoice !== undefined) ctx.addIssue({ code: 'custom', path: ['correctedChoice'], message: `only a correction carries a choice, not ${v.decision}` });
    else if (v.correctedStrength !== undefined) ctx.addIssue({ code: 'custom', path: ['correctedStrength'], message: `only a correction carries a strength, not ${v.decision}` });
  }
});
export type TSubmitReview = z.input<typeof ZSubmitReview>;
