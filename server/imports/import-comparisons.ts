import type { Readable } from 'node:stream';
import type { TDb } from '@/db/client';
import { nativeRecord } from './formats/native';
import { importFiles, type TImportProgress } from './import-formats';
import { canonicalMessagesJson, checkMessageSizes, LineError, lineError, parseJsonLine, sha256 } from './records';
import type { TNativeComparisonLine } from './schemas';

export type { TImportProgress } from './import-formats';

export interface TImportResult {
  lines: number;
  imported: number;
  duplicates: number;
}

export interface TParsedLine {
  line: number;
  data: TNativeComparisonLine;
  promptHash: string;
  comparisonHash: string;
}

/** One native line, validated and hashed (the hashes the importer deduplicates by). */
export function parseNativeLine(text: string, line: number, maxMessageBytes: number): TParsedLine {
  try {
    const record = nativeRecord(parseJsonLine(text));
    checkMessageSizes(record.prompt, maxMessageBytes);
    for (const r of record.responses) checkMessageSizes(r.content, maxMessageBytes);
    const prompt = canonicalMessagesJson(record.prompt);
    const responses = record.responses.map((r) => `{"content":${canonicalMessagesJson(r.content)},"model":${JSON.stringify(r.model ?? null)}}`);
    const data: TNativeComparisonLine = { prompt: record.prompt, responses: record.responses };
    if (record.id !== undefined) data.id = record.id;
    if (record.metadata !== undefined) data.metadata = record.metadata;
    if (record.gold !== undefined) data.gold = record.gold as TNativeComparisonLine['gold'];
    return { line, data, promptHash: sha256(prompt), comparisonHash: sha256(`{"prompt":${prompt},"responses":[${responses.join(',')}]}`) };
  } catch (error) {
    if (error instanceof LineError) throw lineError(undefined, line, error.reason);
    throw error;
  }
}

/**
 * Imports comparisons in the native JSONL format (optionally gzipped) from one unnamed source
 * (errors say "line N: ..."). The same import as importInFormat with the native format.
 */
export async function importComparisons(
  db: TDb,
  input: { projectId: number; judgmentsRequired: number; source: Readable; maxMessageBytes?: number; onProgress?: (p: TImportProgress) => void },
): Promise<TImportResult> {
  const result = await importFiles(db, {
    projectId: input.projectId,
    judgmentsRequired: input.judgmentsRequired,
    format: 'native',
    files: [{ name: undefined, source: input.source }],
    maxMessageBytes: input.maxMessageBytes,
    onProgress: input.onProgress,
  });
  return { lines: result.lines, imported: result.imported, duplicates: result.duplicates };
}
