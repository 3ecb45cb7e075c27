import type postgres from 'postgres';
import type { TLabels } from '../ml/agreement';
import { copyIntRows, inlineInt } from './copy-ints';

export interface TProjectLabels extends TLabels {
  /** Annotator user id of each coder index. */
  coderIds: number[];
  /** Comparison id of each unit index. */
  unitIds: number[];
}

/**
 * The project's pair judgments as agreement labels, streamed through COPY into typed arrays
 * (no per-row objects). The label is signed by the *canonical* position of the chosen response
 * (first response as imported: negative) and its size is the strength (4 = significantly
 * better … 1 = marginally better). These are the annotators' own labels: reviews do not change
 * them, because agreement measures the annotators. Rankings are not labels here.
 */
export async function loadPairLabels(sql: postgres.Sql, projectId: number): Promise<TProjectLabels> {
  const units: number[] = [];
  const coders: number[] = [];
  const values: number[] = [];
  await copyIntRows(
    sql,
    `select j.comparison_id, j.annotator_id,
       (case when cr.position = 0 then -1 else 1 end) * (5 - array_position(enum_range(null::preference_strength), j.strength))
     from judgments j
     join comparison_responses cr on cr.comparison_id = j.comparison_id and cr.response_id = j.chosen_response_id
     where j.project_id = ${inlineInt(projectId)} and j.strength is not null and j.chosen_position is not null
     order by j.comparison_id, j.annotator_id`,
    3,
    (row) => {
      units.push(row[0]!);
      coders.push(row[1]!);
      values.push(row[2]!);
    },
  );
  return toLabels(units, coders, values);
}

/** Ids into dense unit and coder indexes. */
function toLabels(unitIdsByRow: number[], coderIdsByRow: number[], valueList: number[]): TProjectLabels {
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
