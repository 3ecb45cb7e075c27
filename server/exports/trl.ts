import type postgres from 'postgres';
import { formatPreferencePair, preferenceLineFromText, textSplicedFormats, type TPreferenceFormat } from '../formats/preference-formats';
import { streamPreferencePairs, streamPreferencePairsAsText, type TPairOptions } from './preference-pairs';

export { countPreferencePairs } from './preference-pairs';

/**
 * Preference pairs as JSONL in one of the trainer formats (server/formats/preference-formats.ts);
 * by default TRL's conversational format with an explicit prompt (what DPOTrainer reads), plus
 * a `metadata` column (strength, annotator, flags, source comparison, models) for curation.
 */
export async function* streamTrlPreferenceLines(
  sql: postgres.Sql,
  projectId: number,
  options: { batchSize?: number; onRows?: (rows: number) => void; format?: TPreferenceFormat } & TPairOptions = {},
): AsyncGenerator<string> {
  const format = options.format ?? 'trl';
  if (textSplicedFormats.includes(format)) {
    for await (const pairs of streamPreferencePairsAsText(sql, projectId, options)) {
      let chunk = '';
      for (const pair of pairs) chunk += preferenceLineFromText(pair, format) + '\n';
      options.onRows?.(pairs.length);
      yield chunk;
    }
    return;
  }
  for await (const pairs of streamPreferencePairs(sql, projectId, options)) {
    let chunk = '';
    for (const pair of pairs) chunk += JSON.stringify(formatPreferencePair(pair, format)) + '\n';
    options.onRows?.(pairs.length);
    yield chunk;
  }
}
