import type postgres from 'postgres';
import type { TExportFormat } from '../formats/preference-formats';
import type { TPairOptions } from './preference-pairs';
import { countSftLines, streamSftLines } from './sft';
import { countPreferencePairs, streamTrlPreferenceLines } from './trl';

type TLineOptions = { batchSize?: number; onRows?: (rows: number) => void } & TPairOptions;

/** The lines of an export in any format: SFT lines per judgment, the others per preference pair. */
export function streamExportLines(sql: postgres.Sql, projectId: number, format: TExportFormat, options: TLineOptions = {}): AsyncGenerator<string> {
  return format === 'sft' ? streamSftLines(sql, projectId, options) : streamTrlPreferenceLines(sql, projectId, { ...options, format });
}

export function countExportLines(sql: postgres.Sql, projectId: number, format: TExportFormat, options: TPairOptions = {}): Promise<number> {
  return format === 'sft' ? countSftLines(sql, projectId, options) : countPreferencePairs(sql, projectId, options);
}
