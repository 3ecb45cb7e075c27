import type postgres from 'postgres';
import type { TLabels } from '../ml/agreement';
import { inlineInt, loadNumericColumns, orderBy } from './copy-ints';

export interface TProjectLabels extends TLabels {
  /** Day (since 1970-01-01) of the Monday of the week each row's judgment was made. */
  weeks: Int32Array;
  /** Annotator user id of each coder index. */
  coderIds: number[];
  /** Comparison id of each unit index. */
  unitIds: number[];
}

/**
 * The project's pair judgments as agreement labels, streamed in large batches into typed arrays
 * (no per-row objects). The label is signed by the *canonical* position of the chosen response
 * (first response as imported: negative) and its size is the strength (4 = significantly
 * better … 1 = marginally better). These are the annotators' own labels: reviews do not change
 * them, because agreement measures the annotators. Rankings are not labels here.
 */
export async function loadPairLabels(sql: postgres.Sql, projectId: number): Promise<TProjectLabels> {
  const [comparison, annotator, label, week] = await loadNumericColumns(
    sql,
    `select j.comparison_id, j.annotator_id,
       (case when cr.position = 0 then -1 else 1 end)
       * (case j.strength when 'significantly_better' then 4 when 'better' then 3 when 'slightly_better' then 2 else 1 end),
       (extract(epoch from date_trunc('week', j.created_at)) / 86400)::int
     from judgments j
     join comparison_responses cr on cr.comparison_id = j.comparison_id and cr.response_id = j.chosen_response_id
     where j.project_id = ${inlineInt(projectId)} and j.strength is not null and j.chosen_position is not null and j.source is null`,
    4,
  );
  // Rows of one comparison must be contiguous, and the order of comparisons fixed.
  const order = orderBy(comparison!);
  const pick = (column: Float64Array) => Array.from(order, (i) => column[i]!);
  return { ...toLabels(pick(comparison!), pick(annotator!), pick(label!)), weeks: Int32Array.from(order, (i) => week![i]!) };
}

/** Ids into dense unit and coder indexes. */
function toLabels(unitIdsByRow: number[], coderIdsByRow: number[], valueList: number[]): Omit<TProjectLabels, 'weeks'> {
  const n = unitIdsByRow.length;
  const units = new Int32Array(n);
  const coders = new Int32Array(n);
  const values = Int8Array.from(valueList);
  const unitIds: number[] = [];
  const coderIndex = new Map<number, number>();
  const coderIds: number[] = [];
  let lastUnit = NaN;
  for (let i = 0; i < n; i++) {
    const unit = unitIdsByRow[i]!;
    if (unit !== lastUnit) {
      unitIds.push(unit);
      lastUnit = unit;
    }
    units[i] = unitIds.length - 1;
    const coder = coderIdsByRow[i]!;
    let index = coderIndex.get(coder);
    if (index === undefined) {
      index = coderIds.length;
      coderIndex.set(coder, index);
      coderIds.push(coder);
    }
    coders[i] = index;
  }
  return { units, coders, values, coderIds, unitIds };
}
