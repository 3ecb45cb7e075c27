import type postgres from 'postgres';
import type { TLabels } from '../ml/agreement';

export interface TProjectLabels extends TLabels {
  /** Annotator user id of each coder index. */
  coderIds: number[];
  /** Comparison id of each unit index. */
  unitIds: number[];
}

/**
 * The project's pair judgments as agreement labels, in one SQL aggregate (three arrays, not a
 * million row objects). The label is signed by the *canonical* position of the chosen response
 * (first response as imported: negative) and its size is the strength (4 = significantly
 * better … 1 = marginally better). These are the annotators' own labels: reviews do not change
 * them, because agreement measures the annotators. Rankings are not labels here.
 */
export async function loadPairLabels(sql: postgres.Sql, projectId: number): Promise<TProjectLabels> {
  const [row] = await sql<{ units: string | null; coders: string | null; values: string | null }[]>`
    select string_agg(j.comparison_id::text, ',' order by j.comparison_id, j.annotator_id) as units,
      string_agg(j.annotator_id::text, ',' order by j.comparison_id, j.annotator_id) as coders,
      string_agg(((case when cr.position = 0 then -1 else 1 end)
        * (5 - array_position(enum_range(null::preference_strength), j.strength)))::text, ',' order by j.comparison_id, j.annotator_id) as values
    from judgments j
    join comparison_responses cr on cr.comparison_id = j.comparison_id and cr.response_id = j.chosen_response_id
    where j.project_id = ${projectId} and j.strength is not null and j.chosen_position is not null`;
  return toLabels(row?.units ?? null, row?.coders ?? null, row?.values ?? null);
}

/** Comma-separated id lists into dense unit and coder indexes. */
function toLabels(unitsText: string | null, codersText: string | null, valuesText: string | null): TProjectLabels {
  if (!unitsText || !codersText || !valuesText) {
    return { units: new Int32Array(0), coders: new Int32Array(0), values: new Int8Array(0), coderIds: [], unitIds: [] };
  }
  const unitParts = unitsText.split(',');
  const coderParts = codersText.split(',');
  const valueParts = valuesText.split(',');
  const n = unitParts.length;
  const units = new Int32Array(n);
  const coders = new Int32Array(n);
  const values = new Int8Array(n);
  const unitIds: number[] = [];
  const coderIndex = new Map<number, number>();
  const coderIds: number[] = [];
  let lastUnit = NaN;
  for (let i = 0; i < n; i++) {
    const unit = Number(unitParts[i]);
    if (unit !== lastUnit) {
      unitIds.push(unit);
      lastUnit = unit;
    }
    units[i] = unitIds.length - 1;
    const coder = Number(coderParts[i]);
    let index = coderIndex.get(coder);
    if (index === undefined) {
      index = coderIds.length;
      coderIndex.set(coder, index);
      coderIds.push(coder);
    }
    coders[i] = index;
    values[i] = Number(valueParts[i]);
  }
  return { units, coders, values, coderIds, unitIds };
}
