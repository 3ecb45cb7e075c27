import type postgres from 'postgres';
import { streamPreferencePairs, type TPairOptions } from './preference-pairs';

export { countPreferencePairs } from './preference-pairs';

/**
 * TRL's conversational preference format with an explicit prompt (what DPOTrainer reads),
 * one preference pair a line, plus a `metadata` column (strength, annotator, flags, source
 * comparison, models) that trainers ignore and curation reads.
 */
export async function* streamTrlPreferenceLines(
  sql: postgres.Sql,
  projectId: number,
  options: { batchSize?: number; onRows?: (rows: number) => void } & TPairOptions = {},
): AsyncGenerator<string> {
  for await (const pairs of streamPreferencePairs(sql, projectId, options)) {
    let chunk = '';
    for (const pair of pairs) chunk += JSON.stringify(pair) + '\n';
    options.onRows?.(pairs.length);
    yield chunk;
  }
}
