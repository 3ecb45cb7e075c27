import type { Readable } from 'node:stream';
import { and, eq, inArray } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { comparisonResponses, comparisons, prompts, responses } from '@/db/schema';
import { contentHash } from '../content/hash';
import { AppError } from '../errors';
import { issuePath } from '../validation';
import { readLines, UnreadableInputError } from './read-lines';
import { ZNativeComparisonLine, type TNativeComparisonLine } from './schemas';

export interface TImportProgress {
  lines: number;
  bytes: number;
}

export interface TImportResult {
  lines: number;
  imported: number;
  duplicates: number;
}

interface TParsedLine {
  line: number;
  data: TNativeComparisonLine;
  promptHash: string;
  comparisonHash: string;
}

const BATCH_SIZE = 500;

function lineError(line: number, reason: string): AppError {
  return new AppError('BAD_REQUEST', `line ${line}: ${reason}`, { field: `line ${line}` });
}

export function parseNativeLine(text: string, line: number, maxMessageBytes: number): TParsedLine {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw lineError(line, `malformed JSON (${(error as Error).message})`);
  }
  const result = ZNativeComparisonLine.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issuePath(issue.path);
    throw lineError(line, where ? `${where}: ${issue.message}` : issue.message);
  }
  const data = result.data;
  if (data.gold && data.responses.length !== 2) throw lineError(line, 'gold: only pairs can be gold items');
  const allMessages = [...data.prompt, ...data.responses.flatMap((r) => r.content)];
  for (const message of allMessages) {
    if (Buffer.byteLength(message.content) > maxMessageBytes) {
      throw lineError(line, `${message.role === 'assistant' || message.role === 'ipython' ? 'an' : 'a'} ${message.role} message is over the ${maxMessageBytes}-byte limit`);
    }
  }
  const promptHash = contentHash(data.prompt);
  const comparisonHash = contentHash({ prompt: data.prompt, responses: data.responses.map((r) => ({ content: r.content, model: r.model ?? null })) });
  return { line, data, promptHash, comparisonHash };
}

/**
 * Imports comparisons in the native JSONL format (optionally gzipped) into a project.
 * All or nothing: the whole file is one transaction, so a bad line anywhere writes nothing.
 * Batches keep memory bounded; re-importing the same content (same id, or same hash) is a no-op.
 */
export async function importComparisons(
  db: TDb,
  input: { projectId: number; judgmentsRequired: number; source: Readable; maxMessageBytes?: number; onProgress?: (p: TImportProgress) => void },
): Promise<TImportResult> {
  const maxMessageBytes = input.maxMessageBytes ?? 1_000_000;
  const progress: TImportProgress = { lines: 0, bytes: 0 };
  const result: TImportResult = { lines: 0, imported: 0, duplicates: 0 };

  await db.transaction(async (tx) => {
    let batch: TParsedLine[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const written = await writeBatch(tx, input.projectId, input.judgmentsRequired, batch);
      result.imported += written;
      result.duplicates += batch.length - written;
      batch = [];
    };
    try {
      for await (const { number, text } of readLines(input.source, (n) => (progress.bytes += n))) {
        result.lines = number;
        if (text.trim() === '') continue;
        batch.push(parseNativeLine(text, number, maxMessageBytes));
        if (batch.length >= BATCH_SIZE) {
          await flush();
          progress.lines = number;
          input.onProgress?.({ ...progress });
        }
      }
    } catch (error) {
      if (error instanceof UnreadableInputError) throw lineError(error.afterLine + 1, error.message);
      throw error;
    }
    await flush();
    progress.lines = result.lines;
    input.onProgress?.({ ...progress });
  });
  return result;
}

/** Writes one batch; returns how many comparisons were new. */
async function writeBatch(tx: TDb, projectId: number, judgmentsRequired: number, batch: TParsedLine[]): Promise<number> {
  // Prompts: one row per distinct context. The no-op update makes RETURNING include existing rows.
  const uniquePrompts = new Map<string, TParsedLine>();
  for (const item of batch) if (!uniquePrompts.has(item.promptHash)) uniquePrompts.set(item.promptHash, item);
  const promptRows = await tx
    .insert(prompts)
    .values([...uniquePrompts.values()].map((item) => ({ projectId, messages: item.data.prompt, contentHash: item.promptHash })))
    .onConflictDoUpdate({ target: [prompts.projectId, prompts.contentHash], set: { contentHash: prompts.contentHash } })
    .returning({ id: prompts.id, contentHash: prompts.contentHash });
  const promptIdByHash = new Map(promptRows.map((r) => [r.contentHash, r.id]));

  const inserted = await tx
    .insert(comparisons)
    .values(
      batch.map((item) => ({
        projectId,
        promptId: promptIdByHash.get(item.promptHash)!,
        externalId: item.data.id ?? null,
        contentHash: item.comparisonHash,
        judgmentsRequired,
        metadata: item.data.metadata ?? {},
        goldChoice: item.data.gold?.choice ?? null,
        goldMinStrength: item.data.gold?.min_strength ?? null,
      })),
    )
    .onConflictDoNothing()
    .returning({ id: comparisons.id, contentHash: comparisons.contentHash, externalId: comparisons.externalId });

  await rejectChangedIds(tx, projectId, batch, inserted);

  const newByHash = new Map(inserted.map((r) => [r.contentHash, r.id]));
  const newItems = batch.filter((item) => newByHash.get(item.comparisonHash) !== undefined);
  // A file can hold the same comparison twice: only the first occurrence owns the new row.
  const seen = new Set<string>();
  const owners = newItems.filter((item) => !seen.has(item.comparisonHash) && seen.add(item.comparisonHash));
  if (owners.length === 0) return 0;

  const responseValues = owners.flatMap((item) =>
    item.data.responses.map((r) => ({ promptId: promptIdByHash.get(item.promptHash)!, messages: r.content, model: r.model ?? null, origin: 'model' as const })),
  );
  // PostgreSQL returns the rows of a multi-row INSERT ... VALUES in the order given.
  const responseRows = await tx.insert(responses).values(responseValues).returning({ id: responses.id });
  let next = 0;
  const links = owners.flatMap((item) =>
    item.data.responses.map((_, position) => ({ comparisonId: newByHash.get(item.comparisonHash)!, position, responseId: responseRows[next++]!.id })),
  );
  await tx.insert(comparisonResponses).values(links);
  return owners.length;
}

/** The same id with different content is a conflict, not a duplicate: the file must say which. */
async function rejectChangedIds(tx: TDb, projectId: number, batch: TParsedLine[], inserted: { contentHash: string }[]) {
  const insertedHashes = new Set(inserted.map((r) => r.contentHash));
  const skippedWithId = batch.filter((item) => item.data.id !== undefined && !insertedHashes.has(item.comparisonHash));
  if (skippedWithId.length === 0) return;
  const existing = await tx
    .select({ externalId: comparisons.externalId, contentHash: comparisons.contentHash })
    .from(comparisons)
    .where(and(eq(comparisons.projectId, projectId), inArray(comparisons.externalId, skippedWithId.map((i) => i.data.id!))));
  const hashById = new Map(existing.map((r) => [r.externalId, r.contentHash]));
  for (const item of skippedWithId) {
    const stored = hashById.get(item.data.id!);
    // No stored row for the id means the same content exists under another id: a duplicate.
    if (stored !== undefined && stored !== item.comparisonHash) {
      throw lineError(item.line, `id ${JSON.stringify(item.data.id)} already exists in this project with different content`);
    }
  }
}
