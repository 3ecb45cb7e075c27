import { z } from 'zod';
import { judgmentFlags } from '@/db/schema';
import { strengths } from './strengths';

export { strengthLabels, strengths, type TStrength } from './strengths';
export const ZStrength = z.enum(strengths);
export const ZJudgmentFlag = z.enum(judgmentFlags);

export const ZLeaseInput = z.object({
  project: z.string().min(1),
  /** How many comparisons to hold: the one on screen and the next, so it shows at once. */
  want: z.number().int().min(1).max(5).default(2),
});

const position = z.number().int().min(0).max(7);

/**
 * A verdict on one assignment. Pairs give `chosenPosition` and `strength`; comparisons of
 * three or more give `ranking`: groups of shown positions, best first (a group of several is
 * a tie). Positions index the shown order (0 = "Response A").
 */
export const ZSubmitJudgment = z.object({
  assignmentId: z.number().int().positive(),
  clientSubmissionId: z.string().min(8).max(100),
  chosenPosition: position.optional(),
  strength: ZStrength.optional(),
  ranking: z.array(z.array(position).min(1)).min(2).max(8).optional(),
  /** Rankings, when the project asks for it: strength between adjacent groups. */
  rankStrengths: z.array(ZStrength).max(7).optional(),
  /** The annotator's rewrite of the best response's final answer (markdown). */
  edit: z.string().max(200_000).optional(),
  rationale: z.string().max(10_000).optional(),
  flags: z.array(ZJudgmentFlag).max(judgmentFlags.length).optional(),
  timeSpentMs: z.number().int().min(0).max(24 * 3600 * 1000),
});
export type TSubmitJudgment = z.infer<typeof ZSubmitJudgment>;

export const ZSkipInput = z.object({
  assignmentId: z.number().int().positive(),
  reason: z.string().trim().min(1, 'say why you skip').max(500),
});

/** The opaque handle a lease gives the annotator for one assignment (see handles.ts). */
export const ZHandle = z.string().min(1).max(64);

/** What an annotator sends: a handle in place of the assignment id. */
export const ZSubmitByHandle = ZSubmitJudgment.omit({ assignmentId: true }).extend({ handle: ZHandle });
export const ZSkipByHandle = ZSkipInput.omit({ assignmentId: true }).extend({ handle: ZHandle });
