import type postgres from 'postgres';
import { formatPreferencePair, type TPreferenceFormat } from '../formats/preference-formats';
import { sqlLineFormats, streamPairLines, streamPreferencePairs, type TPairOptions, type TSqlLineFormat } from './preference-pairs';

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
  if ((sqlLineFormats as readonly string[]).includes(format)) {
    for await (const lines of streamPairLines(sql, projectId, format as TSqlLineFormat, options)) {
      let chunk = '';
      for (const { line } of lines) chunk += line + '\n';
      options.onRows?.(lines.length);
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
