import { describe, expect, it } from 'vitest';
import { fitStrengths, isComplete, moveTo, removeLast, tieWithLast, togglePlace, type TGroups } from '@/app/annotate/[project]/ranking';

describe('togglePlace', () => {
  it('places an unplaced response at the next rank', () => {
    expect(togglePlace([], 2)).toEqual([[2]]);
    expect(togglePlace([[2]], 0)).toEqual([[2], [0]]);
    expect(togglePlace([[2], [0, 1]], 3)).toEqual([[2], [0, 1], [3]]);
  });

  it('takes a placed response out, dropping a group it leaves empty', () => {
    expect(togglePlace([[2], [0], [1]], 0)).toEqual([[2], [1]]);
    expect(togglePlace([[2], [0, 1]], 0)).toEqual([[2], [1]]);
    expect(togglePlace([[2]], 2)).toEqual([]);
  });

  it('does not change its input', () => {
    const groups: TGroups = [[1], [0, 2]];
    togglePlace(groups, 0);
    togglePlace(groups, 3);
    expect(groups).toEqual([[1], [0, 2]]);
  });
});

describe('tieWithLast', () => {
  it('places the first response alone', () => {
    expect(tieWithLast([], 1)).toEqual([[1]]);
  });

  it('ties an unplaced response with the last rank', () => {
    expect(tieWithLast([[0], [1]], 2)).toEqual([[0], [1, 2]]);
    expect(tieWithLast([[0], [1, 2]], 3)).toEqual([[0], [1, 2, 3]]);
  });

  it('moves a placed response from its rank into the last one', () => {
    expect(tieWithLast([[0], [1], [2]], 0)).toEqual([[1], [2, 0]]);
    // Alone at the last rank, it ties with the rank before.
    expect(tieWithLast([[0], [1], [2]], 2)).toEqual([[0], [1, 2]]);
    // Already tied at the last rank: nothing changes.
    expect(tieWithLast([[0], [1, 2]], 2)).toEqual([[0], [1, 2]]);
    // The only placed response stays alone.
    expect(tieWithLast([[3]], 3)).toEqual([[3]]);
  });
});

describe('removeLast', () => {
  it('removes the last placed response', () => {
    expect(removeLast([[0], [1], [2]])).toEqual([[0], [1]]);
    expect(removeLast([[0], [1, 2]])).toEqual([[0], [1]]);
    expect(removeLast([[0]])).toEqual([]);
  });

  it('leaves an empty ranking as it is', () => {
    const empty: TGroups = [];
    expect(removeLast(empty)).toBe(empty);
  });

  it('undoes togglePlace and tieWithLast', () => {
    const start: TGroups = [[3], [1]];
    expect(removeLast(togglePlace(start, 0))).toEqual(start);
    expect(removeLast(tieWithLast(start, 0))).toEqual(start);
  });
});

describe('moveTo', () => {
  const ranked: TGroups = [[0], [1], [2], [3]];

  it('moves a response into another group as a tie', () => {
    expect(moveTo(ranked, 0, 2, false)).toEqual([[1], [2, 0], [3]]);
    expect(moveTo(ranked, 3, 0, false)).toEqual([[0, 3], [1], [2]]);
    expect(moveTo([[0], [1, 2]], 1, 0, false)).toEqual([[0, 1], [2]]);
  });

  it('moves a response as a new rank before a group, or at the end', () => {
    expect(moveTo(ranked, 3, 0, true)).toEqual([[3], [0], [1], [2]]);
    expect(moveTo(ranked, 0, 2, true)).toEqual([[1], [0], [2], [3]]);
    expect(moveTo(ranked, 0, 4, true)).toEqual([[1], [2], [3], [0]]);
    // Out of a tie, into its own rank before or after the group it leaves.
    expect(moveTo([[0, 1], [2]], 1, 0, true)).toEqual([[1], [0], [2]]);
    expect(moveTo([[0, 1], [2]], 1, 1, true)).toEqual([[0], [1], [2]]);
  });

  it('places an unplaced response', () => {
    expect(moveTo([[0], [1]], 2, 1, false)).toEqual([[0], [1, 2]]);
    expect(moveTo([[0], [1]], 2, 2, true)).toEqual([[0], [1], [2]]);
    expect(moveTo([[0], [1]], 2, 0, true)).toEqual([[2], [0], [1]]);
  });

  it('changes nothing when a response alone at its rank is dropped onto itself', () => {
    expect(moveTo(ranked, 1, 1, false)).toBe(ranked);
    // As a new rank just before or after its own place: the same order.
    expect(moveTo(ranked, 1, 1, true)).toEqual(ranked);
    expect(moveTo(ranked, 1, 2, true)).toEqual(ranked);
  });

  it('keeps a tie when a tied response is dropped onto its own group', () => {
    const out = moveTo([[0], [1, 2]], 1, 1, false);
    expect(out).toHaveLength(2);
    expect(out[0]).toEqual([0]);
    expect([...out[1]!].sort()).toEqual([1, 2]);
  });

  it('does not change its input', () => {
    const groups: TGroups = [[0], [1, 2], [3]];
    moveTo(groups, 2, 0, false);
    moveTo(groups, 0, 3, true);
    expect(groups).toEqual([[0], [1, 2], [3]]);
  });
});

describe('isComplete', () => {
  it('needs every response placed', () => {
    expect(isComplete([[0], [1]], 3)).toBe(false);
    expect(isComplete([[0], [1], [2]], 3)).toBe(true);
    expect(isComplete([[0], [1, 2]], 3)).toBe(true);
    expect(isComplete([], 3)).toBe(false);
  });

  it('needs at least two different ranks', () => {
    expect(isComplete([[0, 1, 2]], 3)).toBe(false);
  });
});

describe('fitStrengths', () => {
  it('keeps one strength per boundary between groups, in place', () => {
    expect(fitStrengths(['better'], [[0], [1], [2]])).toEqual(['better', null]);
    expect(fitStrengths(['better', 'slightly_better', 'marginally_better'], [[0], [1, 2]])).toEqual(['better']);
    expect(fitStrengths([null, 'better'], [[0], [1], [2]])).toEqual([null, 'better']);
  });

  it('has none for fewer than two groups', () => {
    expect(fitStrengths(['better'], [[0]])).toEqual([]);
    expect(fitStrengths(['better'], [])).toEqual([]);
  });
});
