import type postgres from 'postgres';
import type { TOpenAiSkip } from '../formats/openai-preference';
import { writePreferencePairsParquet } from '../formats/parquet';
import type { TExportFormat } from '../formats/preference-formats';
import { streamPreferencePairs, type TPairOptions } from './preference-pairs';
import { countSftLines, streamSftLines } from './sft';
import { countPreferencePairs, streamTrlPreferenceLines } from './trl';

type TLineOptions = {
  batchSize?: number;
  /** Lines (Parquet: rows) written so far, a chunk at a time. */
  onRows?: (rows: number) => void;
  /** A pair the format cannot hold (only `openai` skips pairs), with the reason. */
  onSkipped?: (reason: TOpenAiSkip) => void;
} & TPairOptions;

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
 * preference pair) or a Parquet file of the TRL pairs written one row group at a time. Training
 * formats open with their shape witnesses (server/formats/json-lines.ts): the file is spooled to
 * a temporary file first, so the first chunk comes after one pass over the pairs.
 */
export function streamExport(sql: postgres.Sql, projectId: number, format: TExportFormat, options: TLineOptions = {}): AsyncGenerator<string | Buffer> {
  if (format === 'parquet') return writePreferencePairsParquet(streamPreferencePairs(sql, projectId, options), { onRows: options.onRows });
  if (format === 'sft') return streamSftLines(sql, projectId, options);
  return streamTrlPreferenceLines(sql, projectId, { ...options, format });
}

export function countExportLines(sql: postgres.Sql, projectId: number, format: TExportFormat, options: TPairOptions = {}): Promise<number> {
  return format === 'sft' ? countSftLines(sql, projectId, options) : countPreferencePairs(sql, projectId, options);
}
