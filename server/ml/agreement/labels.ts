/**
 * Judgment labels as parallel typed arrays, one row per judgment, so a million rows cost three
 * flat buffers instead of a million objects.
 *
 * A preference label is signed: choosing the first response (canonical position 0, not the shown
 * position) gives -4 significantly_better, -3 better, -2 slightly_better, -1 marginally_better;
 * choosing the second gives +1..+4 in the same order of strength. There is no 0. The nominal
 * "choice" label is the sign. The generic statistics (Fleiss with 'value', Cohen, Krippendorff)
 * accept any Int8 values, so published examples coded 1..5 run unchanged.
 */
export interface TLabels {
  /** Unit (comparison) of each row; rows are sorted by unit, a unit's rows are contiguous. */
  units: Int32Array;
  /** Coder (annotator) index of each row, dense 0..C-1; at most one row per coder and unit. */
  coders: Int32Array;
  /** The label of each row. */
  values: Int8Array;
}

/** How labels become nominal categories: the sign ('choice') or each distinct value ('value'). */
export type TNominal = 'choice' | 'value';

/** Offset that turns an Int8 value into an index 0..255, so per-category counts live in flat arrays. */
export const slotOffset = 128;
export const slotCount = 256;

/**
 * Validates the table and returns where each unit's rows start: `starts[u]..starts[u+1]` are the
 * rows of the u-th unit in order of appearance (length U + 1). Checked here rather than trusted,
 * because an unsorted or duplicated row silently skews every statistic.
 */
export function unitStarts(data: TLabels): Int32Array {
  const { units, coders, values } = data;
  const n = units.length;
  if (coders.length !== n || values.length !== n) {
    throw new RangeError(`units, coders and values must have the same length (${n}, ${coders.length}, ${values.length})`);
  }
  let runs = 0;
  let maxCoder = -1;
  for (let i = 0; i < n; i++) {
    const unit = units[i]!;
    const coder = coders[i]!;
    if (coder < 0) throw new RangeError(`row ${i}: coder index ${coder} is negative`);
    if (coder > maxCoder) maxCoder = coder;
    if (i === 0 || unit !== units[i - 1]!) {
      if (i > 0 && unit < units[i - 1]!) throw new RangeError(`row ${i}: rows must be sorted by unit`);
      runs++;
    }
  }
  const starts = new Int32Array(runs + 1);
  const lastUnitOfCoder = new Int32Array(maxCoder + 1).fill(-1);
  let u = -1;
  for (let i = 0; i < n; i++) {
    if (i === 0 || units[i] !== units[i - 1]) starts[++u] = i;
    const coder = coders[i]!;
    if (lastUnitOfCoder[coder] === u) throw new RangeError(`row ${i}: coder ${coder} labels unit ${units[i]} more than once`);
    lastUnitOfCoder[coder] = u;
  }
  starts[runs] = n;
  return starts;
}

/** The choice (sign) of each label, for `cohensKappa` on choices. */
export function choices(values: Int8Array): Int8Array {
  const out = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.sign(values[i]!);
  return out;
}

/** The data with each label replaced by its choice (sign). */
export function toChoices(data: TLabels): TLabels {
  return { units: data.units, coders: data.coders, values: choices(data.values) };
}
