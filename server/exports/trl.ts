import type postgres from 'postgres';
import { jsonLinesOf, writeJsonLines, type TJsonLine } from '../formats/json-lines';
import type { TOpenAiSkip } from '../formats/openai-preference';
import { formatPreferencePair, isTrainingFormat, type TPreferenceFormat } from '../formats/preference-formats';
import { sqlLineFormats, streamPairLines, streamPreferencePairs, type TPairOptions, type TSqlLineFormat } from './preference-pairs';

export { countPreferencePairs } from './preference-pairs';

type TLineOptions = { batchSize?: number; onSkipped?: (reason: TOpenAiSkip) => void } & TPairOptions;

/**
 * A project's preference pairs as line objects in one of the trainer formats
 * (server/formats/preference-formats.ts), in judgment order, through the TypeScript encoder a
 * dataset version's download uses too. Pairs the format cannot hold (`openai`) are reported to
 * `onSkipped` with the reason, never silently dropped.
 */
export async function* preferenceLineObjects(sql: postgres.Sql, projectId: number, format: TPreferenceFormat, options: TLineOptions = {}): AsyncGenerator<object> {
  for await (const pairs of streamPreferencePairs(sql, projectId, options)) {
    for (const pair of pairs) {
      const formatted = formatPreferencePair(pair, format);
      if ('line' in formatted) yield formatted.line;
      else options.onSkipped?.(formatted.skip);
    }
  }
}

/**
 * A key of a message beyond role and content (stored messages have no others; content/schemas.ts).
 * In JSON text a quote inside a string is escaped, so `"name"` only matches a key; `"tool_call`
 * may also match escaped text, which only costs a parse.
 */
const richMessageKey = /"tool_call|"name"/;

/**
 * `trl` and `trl-implicit` lines as PostgreSQL writes them: the same lines as
 * preferenceLineObjects, without a parse in Node. A line without a flag or a rich message key has
 * the shapes of every such line (json-lines.ts), so its shapes are read once.
 */
async function* sqlLines(sql: postgres.Sql, projectId: number, format: TSqlLineFormat, options: TLineOptions): AsyncGenerator<TJsonLine> {
  for await (const lines of streamPairLines(sql, projectId, format, options)) {
    for (const { line, unflagged } of lines) yield { text: line, plain: unflagged && !richMessageKey.test(line) };
  }
}

/**
 * Preference pairs as JSONL in a trainer format, by default TRL's conversational format with an
 * explicit prompt (what DPOTrainer reads) plus a `metadata` column for curation. Training formats
 * open with their shape witnesses (server/formats/json-lines.ts).
 */
export function streamTrlPreferenceLines(
  sql: postgres.Sql,
  projectId: number,
  options: { onRows?: (rows: number) => void; format?: TPreferenceFormat } & TLineOptions = {},
): AsyncGenerator<string> {
  const format = options.format ?? 'trl';
  const lines = (sqlLineFormats as readonly string[]).includes(format)
    ? sqlLines(sql, projectId, format as TSqlLineFormat, options)
    : jsonLinesOf(preferenceLineObjects(sql, projectId, format, options));
  return writeJsonLines(lines, { witnessesFirst: isTrainingFormat(format), onRows: options.onRows });
}
