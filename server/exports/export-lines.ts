import type postgres from 'postgres';
import { writePreferencePairsParquet } from '../formats/parquet';
import type { TExportFormat } from '../formats/preference-formats';
import { streamPreferencePairs, type TPairOptions } from './preference-pairs';
import { countSftLines, streamSftLines } from './sft';
import { countPreferencePairs, streamTrlPreferenceLines } from './trl';

type TLineOptions = { batchSize?: number; onRows?: (rows: number) => void } & TPairOptions;

/** The JSONL formats; `parquet` is binary. */
export function isBinaryExportFormat(format: TExportFormat): format is 'parquet' {
  return format === 'parquet';
}

/** File name extension of an export's file. */
export function exportExtension(format: TExportFormat): 'parquet' | 'jsonl' {
  return isBinaryExportFormat(format) ? 'parquet' : 'jsonl';
}

/** HTTP content type of an export's file (`application/vnd.apache.parquet` is Parquet's registered media type). */
export function exportContentType(format: TExportFormat): string {
  return isBinaryExportFormat(format) ? 'application/vnd.apache.parquet' : 'application/x-ndjson; charset=utf-8';
}

/**
 * The chunks of an export's file in any format: JSONL lines (SFT per judgment, the others per
 * preference pair) or a Parquet file of the TRL pairs written one row group at a time.
 */
export function streamExport(sql: postgres.Sql, projectId: number, format: TExportFormat, options: TLineOptions = {}): AsyncGenerator<string | Buffer> {
  if (format === 'sft') return streamSftLines(sql, projectId, options);
  if (format === 'parquet') return writePreferencePairsParquet(streamPreferencePairs(sql, projectId, options), { onRows: options.onRows });
  return streamTrlPreferenceLines(sql, projectId, { ...options, format });
}

export function countExportLines(sql: postgres.Sql, projectId: number, format: TExportFormat, options: TPairOptions = {}): Promise<number> {
  return format === 'sft' ? countSftLines(sql, projectId, options) : countPreferencePairs(sql, projectId, options);
}
