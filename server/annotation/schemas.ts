import { z } from 'zod';

import { strengths } from './strengths';

export { strengthLabels, strengths, type TStrength } from './strengths';
export const ZStrength = z.enum(strengths);

export const ZLeaseInput = z.object({
  project: z.string().min(1),
  /** How many comparisons to hold: the one on screen and the next, so it shows at once. */
  want: z.number().int().min(1).max(5).default(2),
});

export const ZSubmitJudgment = z.object({
  assignmentId: z.number().int().positive(),
  clientSubmissionId: z.string().min(8).max(100),
  /** Index in the shown order: 0 = left ("Response A"), 1 = right ("Response B"). */
  chosenPosition: z.number().int().min(0).max(1),
  strength: ZStrength,
  rationale: z.string().max(10_000).optional(),
  timeSpentMs: z.number().int().min(0).max(24 * 3600 * 1000),
});
export type TSubmitJudgment = z.infer<typeof ZSubmitJudgment>;
