/**
 * A ranking under construction: groups of shown positions, best first; a group of several is
 * a tie. Pure functions, so the keyboard, the buttons and drag-and-drop share one behaviour.
 */
export type TGroups = number[][];

function without(groups: TGroups, position: number): TGroups {
  return groups.map((g) => g.filter((p) => p !== position)).filter((g) => g.length > 0);
}

/** Places a response at the next rank, or takes it out if it is already placed. */
export function togglePlace(groups: TGroups, position: number): TGroups {
  return groups.some((g) => g.includes(position)) ? without(groups, position) : [...groups, [position]];
}

/** Places a response tied with the last rank (or first, when nothing is placed yet). */
export function tieWithLast(groups: TGroups, position: number): TGroups {
  const rest = without(groups, position);
  if (rest.length === 0) return [[position]];
  return [...rest.slice(0, -1), [...rest[rest.length - 1]!, position]];
}

/** Removes the most recently placed response. */
export function removeLast(groups: TGroups): TGroups {
  if (groups.length === 0) return groups;
  const last = groups[groups.length - 1]!;
  return last.length > 1 ? [...groups.slice(0, -1), last.slice(0, -1)] : groups.slice(0, -1);
}

/**
 * Moves a response (drag and drop): into group `index` as a tie, or, with `asNewRank`, as its
 * own rank just before group `index` (index = groups.length: at the end). Indexes are those of
 * the groups as shown while dragging.
 */
export function moveTo(groups: TGroups, position: number, index: number, asNewRank: boolean): TGroups {
  const kept = groups.map((g, i) => ({ g: g.filter((p) => p !== position), i })).filter((t) => t.g.length > 0);
  if (asNewRank) {
    const at = kept.findIndex((t) => t.i >= index);
    const out = kept.map((t) => t.g);
    out.splice(at === -1 ? out.length : at, 0, [position]);
    return out;
  }
  // Dropped onto its own rank, alone there: nothing to change.
  if (!kept.some((t) => t.i === index)) return groups;
  return kept.map((t) => (t.i === index ? [...t.g, position] : t.g));
}

export function isComplete(groups: TGroups, count: number): boolean {
  return groups.reduce((n, g) => n + g.length, 0) === count && groups.length >= 2;
}

/** Keeps the strengths array as long as the boundaries between groups. */
export function fitStrengths<T>(strengths: (T | null)[], groups: TGroups): (T | null)[] {
  const wanted = Math.max(0, groups.length - 1);
  return Array.from({ length: wanted }, (_, i) => strengths[i] ?? null);
}
