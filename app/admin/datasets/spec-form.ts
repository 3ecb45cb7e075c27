import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';
import type { TDatasetSpecInput } from '@/server/datasets/spec';
import { expansions, type TExpansion } from '@/server/exports/preference-pairs';

/** What the build form holds: text as typed, turned into a spec by `specFromForm`. */
export interface TSpecForm {
  projects: string[];
  minStrength: TStrength | 'any';
  dropSimilar: 'none' | 'marginally_better' | 'slightly_better';
  keepUnrated: boolean;
  dropFlagged: boolean;
  dropGold: boolean;
  /** A share from 0 to 1; empty: off. */
  minGoldAccuracy: string;
  aggregation: 'all' | 'consensus';
  expansion: TExpansion;
  /** A cosine similarity strictly between 0 and 1; empty: off. */
  dedupThreshold: string;
  testFraction: string;
  splitSeed: string;
  /** Comma-separated labels; empty: every round. */
  rounds: string;
  /** Comma-separated model names; empty: every model. */
  models: string;
  /** yyyy-mm-dd (local days); empty: unbounded. */
  from: string;
  to: string;
}

/** The spec's defaults (Llama 3: significantly better and better only, similar responses dropped). */
export function defaultSpecForm(projects: string[] = []): TSpecForm {
  return {
    projects,
    minStrength: 'better',
    dropSimilar: 'marginally_better',
    keepUnrated: true,
    dropFlagged: true,
    dropGold: true,
    minGoldAccuracy: '',
    aggregation: 'all',
    expansion: 'all',
    dedupThreshold: '',
    testFraction: '0.05',
    splitSeed: 'pairwise',
    rounds: '',
    models: '',
    from: '',
    to: '',
  };
}

export const minStrengthOptions: { value: TSpecForm['minStrength']; label: string }[] = [
  ...strengths.map((s) => ({ value: s, label: s === 'better' ? `${strengthLabels[s]} (Llama 3)` : strengthLabels[s] })),
  { value: 'any', label: 'Any strength' },
];

export const dropSimilarOptions: { value: TSpecForm['dropSimilar']; label: string }[] = [
  { value: 'marginally_better', label: 'Marginally better (default)' },
  { value: 'slightly_better', label: 'Slightly and marginally better' },
  { value: 'none', label: 'Nothing' },
];

export const aggregationOptions: { value: TSpecForm['aggregation']; label: string }[] = [
  { value: 'all', label: 'All judgments' },
  { value: 'consensus', label: 'Consensus per comparison' },
];

const expansionLabels: Record<TExpansion, string> = {
  all: 'Every ordered pair of ranks',
  adjacent: 'Adjacent ranks only',
  top: 'Best against each other',
};
export const expansionOptions = expansions.map((value) => ({ value, label: expansionLabels[value] }));

/** One line on what each field does, shown under it. */
export const fieldHelp: Record<keyof TSpecForm | 'name', string> = {
  name: 'How people will refer to this version, e.g. “rm round 2”.',
  projects: 'The projects whose judgments the pairs come from.',
  minStrength: 'The weakest preference kept; Llama 3 keeps only “significantly better” and “better”.',
  dropSimilar: 'Pairs whose responses are this close are discarded (Llama 3 discards similar responses).',
  keepUnrated: 'Pairs without a strength: edits over the original, rankings without strengths, imported labels.',
  dropFlagged: 'Leave out judgments that annotators flagged.',
  dropGold: 'Leave out judgments of gold items; judgments a reviewer rejected are always left out.',
  minGoldAccuracy: 'Leave out annotators whose gold accuracy in the project is below this share (0–1); annotators without gold answers stay. Empty: off.',
  aggregation: 'All: every judgment gives pairs. Consensus: one chosen > rejected pair per pair comparison.',
  expansion: 'How rankings and edit triples (edited > chosen > rejected) become pairs.',
  dedupThreshold: 'Semantic prompt dedup: drop prompts whose cosine similarity to a kept one reaches this (0–1, exclusive). Empty: off.',
  testFraction: 'Share of prompts held out for the test split (0–0.5); no prompt is in both splits.',
  splitSeed: 'The same seed splits the same prompts the same way in every rebuild.',
  rounds: 'Only comparisons whose metadata.round is one of these labels, comma-separated. Empty: all.',
  models: 'Only pairs whose both responses come from these models, comma-separated (edits and human answers pass). Empty: all.',
  from: 'Only judgments made on or after this day (local time). Empty: from the start.',
  to: 'Only judgments made before this day (local time). Empty: up to now.',
};

const list = (text: string) => {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
};

const dayStart = (day: string) => (day ? new Date(`${day}T00:00:00`).toISOString() : undefined);

/** An optional share: empty is `null`; anything that is not a number is an error. */
function optionalNumber(text: string): number | null | 'invalid' {
  if (text.trim() === '') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : 'invalid';
}

/**
 * The spec the form sends, with every filter spelled out (so the preview is exactly what is
 * launched), and the fields that cannot become one. Range checks are the server's.
 */
export function specFromForm(form: TSpecForm): { spec: TDatasetSpecInput; errors: Partial<Record<keyof TSpecForm, string>> } {
  const errors: Partial<Record<keyof TSpecForm, string>> = {};
  const minGoldAccuracy = optionalNumber(form.minGoldAccuracy);
  const dedupThreshold = optionalNumber(form.dedupThreshold);
  const testFraction = optionalNumber(form.testFraction);
  if (minGoldAccuracy === 'invalid') errors.minGoldAccuracy = 'must be a number, or empty';
  if (dedupThreshold === 'invalid') errors.dedupThreshold = 'must be a number, or empty';
  if (testFraction === 'invalid' || testFraction === null) errors.testFraction = 'must be a number';
  if (form.projects.length === 0) errors.projects = 'choose at least one project';
  const spec: TDatasetSpecInput = {
    projects: [...form.projects].sort(),
    rounds: list(form.rounds),
    from: dayStart(form.from),
    to: dayStart(form.to),
    models: list(form.models),
    minStrength: form.minStrength === 'any' ? null : form.minStrength,
    dropSimilar: form.dropSimilar,
    keepUnrated: form.keepUnrated,
    dropFlagged: form.dropFlagged,
    dropGold: form.dropGold,
    minGoldAccuracy: typeof minGoldAccuracy === 'number' ? minGoldAccuracy : null,
    aggregation: form.aggregation,
    expansion: form.expansion,
    dedupThreshold: typeof dedupThreshold === 'number' ? dedupThreshold : null,
    testFraction: typeof testFraction === 'number' ? testFraction : 0.05,
    splitSeed: form.splitSeed,
  };
  // Unset optional filters are left out, as JSON would drop them anyway.
  for (const key of ['rounds', 'from', 'to', 'models'] as const) if (spec[key] === undefined) delete spec[key];
  return { spec, errors };
}

/** The form field a server error names ("spec.testFraction" → "testFraction"). */
export function formFieldOf(field: string | undefined): keyof TSpecForm | 'name' | null {
  if (!field) return null;
  const key = field.replace(/^spec\./, '').replace(/[.[].*$/, '');
  return key === 'name' || key in defaultSpecForm() ? (key as keyof TSpecForm | 'name') : null;
}

const specKeyOrder = ['projects', 'rounds', 'from', 'to', 'models', 'minStrength', 'dropSimilar', 'keepUnrated', 'dropFlagged', 'dropGold', 'minGoldAccuracy', 'aggregation', 'expansion', 'dedupThreshold', 'testFraction', 'splitSeed'];

/** A stored spec with its keys in the form's order (the database keeps JSON keys in its own order). */
export function orderedSpec(spec: unknown): unknown {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return spec;
  const entries = Object.entries(spec as Record<string, unknown>);
  const rank = (key: string) => (specKeyOrder.includes(key) ? specKeyOrder.indexOf(key) : specKeyOrder.length);
  return Object.fromEntries(entries.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)));
}
