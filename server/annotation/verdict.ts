import type { TMessage } from '@/db/schema';
import { AppError } from '../errors';
import type { TStrength, TSubmitJudgment } from './schemas';

export type TProjectRules = {
  editMode: 'off' | 'optional' | 'required';
  allowTies: boolean;
  rankingStrength: boolean;
};

/** A verdict checked against the comparison and the project, in shown positions. */
export interface TVerdict {
  /** Groups of shown positions, best first. A pair is [[chosen], [rejected]]. */
  groups: number[][];
  strength: TStrength | null;
  rankStrengths: TStrength[] | null;
  chosenPosition: number | null;
}

const bad = (message: string, field: string) => new AppError('BAD_REQUEST', message, { field });

/** Turns submitted fields into ranked groups, enforcing the project's rules for pairs and rankings. */
export function resolveVerdict(input: TSubmitJudgment, shownCount: number, rules: TProjectRules): TVerdict {
  if (shownCount === 2) {
    if (input.ranking) throw bad('a pair is judged with chosenPosition and strength, not a ranking', 'ranking');
    if (input.chosenPosition === undefined || input.chosenPosition > 1) throw bad('choose response 0 or 1', 'chosenPosition');
    if (!input.strength) throw bad('say how much better the chosen response is', 'strength');
    return { groups: [[input.chosenPosition], [1 - input.chosenPosition]], strength: input.strength, rankStrengths: null, chosenPosition: input.chosenPosition };
  }
  const ranking = input.ranking;
  if (!ranking) throw bad(`rank all ${shownCount} responses`, 'ranking');
  const seen = ranking.flat();
  if (seen.length !== shownCount || new Set(seen).size !== shownCount || seen.some((p) => p >= shownCount)) {
    throw bad(`the ranking must hold each of the ${shownCount} responses exactly once`, 'ranking');
  }
  if (!rules.allowTies && ranking.some((g) => g.length > 1)) throw bad('this project does not allow ties', 'ranking');
  if (ranking.length < 2) throw bad('a ranking needs at least two different ranks', 'ranking');
  let rankStrengths: TStrength[] | null = null;
  if (rules.rankingStrength) {
    if (!input.rankStrengths || input.rankStrengths.length !== ranking.length - 1) {
      throw bad(`give a strength between each pair of adjacent ranks (${ranking.length - 1})`, 'rankStrengths');
    }
    rankStrengths = input.rankStrengths;
  }
  return { groups: ranking, strength: null, rankStrengths, chosenPosition: null };
}

/**
 * The edited version of the best response: its messages with the final assistant message's
 * content replaced (tool calls and results before it stay as they were). Null when the
 * project has no edit step, nothing was given, or (optional mode) nothing changed.
 * `best` is null when ranks tie at the top: there is no single response to rewrite, so even
 * a required edit is not asked for.
 */
export function resolveEdit(edit: string | undefined, best: TMessage[] | null, rules: TProjectRules): TMessage[] | null {
  const given = edit !== undefined && edit.trim().length > 0;
  if (rules.editMode === 'off') {
    if (given) throw bad('this project has no edit step', 'edit');
    return null;
  }
  if (!given) {
    if (rules.editMode === 'required' && best) throw bad('this project requires an edit of the chosen response', 'edit');
    return null;
  }
  if (!best) throw bad('an edit needs a single best response (no tie at the top)', 'edit');
  const last = best.map((m) => m.role).lastIndexOf('assistant');
  if (last < 0) throw bad('the chosen response has no assistant message to edit', 'edit');
  // Whitespace at the ends is not a change: it would make near-identical edited>chosen pairs.
  if (best[last]!.content.trim() === edit!.trim()) {
    if (rules.editMode === 'required') throw bad('the edit must change the response', 'edit');
    return null;
  }
  return best.map((m, i) => (i === last ? { ...m, content: edit! } : m));
}
