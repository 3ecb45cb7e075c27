import type { TJudgmentFlag } from '@/db/schema';
import type { TStrength } from '@/server/annotation/strengths';

/** The project settings the judging UI follows. */
export interface TRules {
  editMode: 'off' | 'optional' | 'required';
  allowTies: boolean;
  rankingStrength: boolean;
}

/** What the judging UI hands back; the caller adds the assignment and submission id. */
export interface TClientVerdict {
  chosenPosition?: number;
  strength?: TStrength;
  ranking?: number[][];
  rankStrengths?: TStrength[];
  edit?: string;
  rationale?: string;
  flags?: TJudgmentFlag[];
  timeSpentMs: number;
}

export const flagLabels: Record<TJudgmentFlag, string> = {
  unsafe: 'Unsafe content',
  personal_data: 'Personal data',
  both_bad: 'Both responses bad',
  prompt_unclear: 'Prompt unclear',
};

export const sideLetters = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'] as const;
