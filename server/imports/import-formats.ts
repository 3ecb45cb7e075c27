import path from 'node:path';
import type { Readable } from 'node:stream';
import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { AppError } from '../errors';
import { hhRecord } from './formats/hh-rlhf';
import { nativeRecord } from './formats/native';
import { openaiChatRecord } from './formats/openai-chat';
import { trlRecord } from './formats/trl';
import { importAnswers } from './import-answers';
import { dedupImportedPrompts, type TImportDedupDrop } from './import-dedup';
import { ensureImportUser } from './import-user';
import { InputTooLargeError, readLines, UnreadableInputError } from './read-lines';
import { LineError, lineError, parseJsonLine, type TImportRecord } from './records';
import { Batch, identitySequences, prepareRecord, writeBatch, type TLineRef, type TPrepared, type TWriteContext } from './write-batch';

export const importFormats = ['native', 'trl', 'hh-rlhf', 'openai-chat', 'answers'] as const;
export type TImportFormat = (typeof importFormats)[number];

/** Formats whose lines carry a preference: each becomes a judgment of the import user. */
const labelledFormats = new Set<TImportFormat>(['trl', 'hh-rlhf']);

const lineCodecs: Record<Exclude<TImportFormat, 'answers'>, (json: unknown) => TImportRecord> = {
  native: nativeRecord,
  trl: trlRecord,
  'hh-rlhf': hhRecord,
  'openai-chat': openaiChatRecord,
};

export interface TImportProgress {
  lines: number;
  /** Raw bytes read from the sources (the compressed ones for gzip). */
  bytes: number;
}

export interface TFormatImportResult {
  /** Lines read in all files, blank ones included. */
  lines: number;
  /** New comparisons. */
  imported: number;
  /** Comparisons (openai-chat: prompts) already in the project or repeated in the files. */
  duplicates: number;
  /** New prompts, those of new comparisons included. */
  prompts: number;
  /** Imported judgments (labelled formats). */
  judgments: number;
  /** answers: uids without a prompt or without an answer from both models. */
  skipped: number;
  /** With a dedup threshold: new prompts left out as near duplicates (their comparisons are not in `imported`). */
  dedupDropped?: TImportDedupDrop[];
  /** With skipInvalid: the bad lines left out (each reported through onRejected). */
  rejected?: number;
}

/** A line left out by a lenient import: where it is and why. */
export interface TRejectedLine {
  /** Null for the single unnamed upload. */
  file: string | null;
  line: number;
  reason: string;
}

export interface TFormatImportInput {
  projectId: number;
  judgmentsRequired: number;
  /** Default: native. */
  format?: TImportFormat;
  /**
   * `name` names the file in errors ("name: line 3: ...") and, base name only, in the source of
   * imported judgments ("trl:name"); an empty name gives "line 3: ..." and "trl:upload".
   */
  files: { name: string; source: Readable }[];
  /** answers: the two models to compare (default: those of the first two answers files). */
  models?: string[];
  maxMessageBytes?: number;
  /** The longest line (bytes); a longer one is refused as soon as it crosses the bound. Default: no bound. */
  maxLineBytes?: number;
  /** The most bytes of text (after gunzip) of all files together: over it, a 413. Default: no bound. */
  maxBytes?: number;
  /**
   * Lenient import: bad lines (bad JSON or fields, too long, an id taken with other content)
   * are left out and reported to `onRejected` instead of failing the import. A file that
   * cannot be read on (a corrupt gzip stream, a broken upload) still fails it all.
   */
  skipInvalid?: boolean;
  onRejected?: (rejected: TRejectedLine) => void | Promise<void>;
  onProgress?: (progress: TImportProgress) => void;
  /** Semantic dedup of the new prompts (cosine similarity threshold, in (0, 1)); off when unset. */
  dedupThreshold?: number;
  onDedupProgress?: (done: number, total: number) => void;
}

/** Lines a write batch holds; progress is reported per batch. */
export const BATCH_SIZE = 500;
const NON_SPACE = /\S/;

export interface TNamedSource {
  /** Undefined for the single unnamed upload of importComparisons: errors then say only "line N". */
  name: string | undefined;
  source: Readable;
}

/**
 * One import in one transaction: records go into batches, and each full batch is written
 * while the next one is read and validated (one write in flight at a time, so an error
 * always names the earliest bad line).
 */
export class ImportRun {
  private batch = new Batch();
  private pending: Promise<void> | null = null;
  readonly result: TFormatImportResult = { lines: 0, imported: 0, duplicates: 0, prompts: 0, judgments: 0, skipped: 0 };
  readonly progress: TImportProgress = { lines: 0, bytes: 0 };
  /** Text bytes of every file of the import, for the maxBytes bound. */
  private readonly text = { bytes: 0 };

  constructor(
    readonly tx: TDb,
    private readonly ctx: TWriteContext,
    private readonly onProgress?: (progress: TImportProgress) => void,
    private readonly options: Pick<TFormatImportInput, 'maxLineBytes' | 'maxBytes' | 'skipInvalid' | 'onRejected'> = {},
  ) {
    if (options.skipInvalid) this.result.rejected = 0;
  }

  get lenient(): boolean {
    return this.options.skipInvalid === true;
  }

  /** A lenient import's bad line: counted and reported, then reading goes on. */
  async reject(file: string | undefined, line: number, reason: string): Promise<void> {
    this.result.rejected = (this.result.rejected ?? 0) + 1;
    await this.options.onRejected?.({ file: file ?? null, line, reason });
  }

  async add(item: TPrepared): Promise<void> {
    this.batch.add(item);
    if (this.batch.size >= BATCH_SIZE) await this.flush();
  }

  async flush(report = true): Promise<void> {
    const batch = this.batch;
    if (batch.size === 0) return;
    this.batch = new Batch();
    await this.settle();
    const write = writeBatch(this.tx, this.ctx, batch).then(async (r) => {
      const conflict = (ref: TLineRef) => `id ${JSON.stringify(ref.id)} already exists in this project with different content`;
      if (r.conflicts.length > 0 && !this.lenient) throw lineError(r.conflicts[0]!.file, r.conflicts[0]!.line, conflict(r.conflicts[0]!));
      // The statement leaves a conflicting comparison out and writes the rest of the batch.
      for (const ref of r.conflicts) await this.reject(ref.file, ref.line, conflict(ref));
      this.result.imported += r.imported;
      this.result.judgments += r.judgments;
      this.result.prompts += r.prompts;
      this.result.duplicates += batch.comparisonRecords - r.conflicts.length - r.imported + (batch.promptRecords > 0 ? batch.promptRecords - r.prompts : 0);
    });
    // Awaited by the next flush or settle; until then a failure must not count as unhandled.
    write.catch(() => {});
    this.pending = write;
    if (!report) return;
    this.progress.lines = this.result.lines;
    this.onProgress?.({ ...this.progress });
  }

  /** Waits for the write in flight; its error, if any, is thrown here. */
  async settle(): Promise<void> {
    const pending = this.pending;
    this.pending = null;
    if (pending) await pending;
  }

  async finish(): Promise<TFormatImportResult> {
    await this.flush(false);
    await this.settle();
    this.progress.lines = this.result.lines;
    this.onProgress?.({ ...this.progress });
    return this.result;
  }

  /**
   * Calls `handle` with every non-blank line of a file, parsed as JSON. A LineError becomes
   * the 400 that names the file and line, after the write in flight (whose error is about an
   * earlier line) has had its say; a lenient import reports it and goes on.
   */
  async eachLine(file: TNamedSource, handle: (json: unknown, ref: TLineRef) => Promise<void> | void): Promise<void> {
    const limits = { maxLineBytes: this.options.maxLineBytes, maxBytes: this.options.maxBytes, total: this.text };
    try {
      for await (const { number, text, tooLong } of readLines(file.source, (n) => (this.progress.bytes += n), limits)) {
        this.result.lines += 1;
        try {
          if (tooLong) throw new LineError(`the line is over the ${limits.maxLineBytes}-byte limit of a line (PAIRWISE_MAX_LINE_BYTES)`);
          if (!NON_SPACE.test(text)) continue;
          await handle(parseJsonLine(text), { file: file.name, line: number, id: null });
        } catch (error) {
          if (!(error instanceof LineError)) throw error;
          if (this.lenient) {
            await this.reject(file.name, number, error.reason);
            continue;
          }
          await this.settle();
          throw lineError(file.name, number, error.reason);
        }
      }
    } catch (error) {
      if (!(error instanceof UnreadableInputError)) throw error;
      await this.settle();
      if (error instanceof InputTooLargeError) {
        const where = file.name === undefined ? `line ${error.afterLine + 1}` : `${file.name}: line ${error.afterLine + 1}`;
        throw new AppError('PAYLOAD_TOO_LARGE', `${where}: ${error.message} (PAIRWISE_MAX_IMPORT_BYTES)`, { field: where });
      }
      throw lineError(file.name, error.afterLine + 1, error.message);
    }
  }
}

/**
 * Imports files of one format into a project, all or nothing: every file in one transaction,
 * so a bad line anywhere (named by file, line and reason) writes nothing. Gzip is recognised
 * by its magic bytes. Comparisons already in the project (same id, or same content) are
 * skipped as duplicates; the same id with other content is an error.
 */
export async function importInFormat(db: TDb, input: TFormatImportInput): Promise<TFormatImportResult> {
  // An empty name is an unnamed upload: its errors say just "line N".
  return importFiles(db, { ...input, files: input.files.map((f) => ({ name: f.name || undefined, source: f.source })) });
}

export async function importFiles(db: TDb, input: Omit<TFormatImportInput, 'files'> & { files: TNamedSource[] }): Promise<TFormatImportResult> {
  const format = input.format ?? 'native';
  if (!importFormats.includes(format)) throw new AppError('BAD_REQUEST', `unknown import format ${JSON.stringify(format)}: one of ${importFormats.join(', ')}`, { field: 'format' });
  if (input.files.length === 0) throw new AppError('BAD_REQUEST', 'no files to import', { field: 'files' });
  if (input.models?.length && format !== 'answers') throw new AppError('BAD_REQUEST', 'models are chosen only in the answers format', { field: 'models' });
  const maxMessageBytes = input.maxMessageBytes ?? 1_000_000;
  const threshold = input.dedupThreshold;
  if (threshold !== undefined && !(threshold > 0 && threshold < 1)) {
    throw new AppError('BAD_REQUEST', `the dedup threshold is a cosine similarity strictly between 0 and 1, got ${threshold}`, { field: 'dedupThreshold' });
  }

  try {
    return await importInTransaction(db, format, input, maxMessageBytes);
  } finally {
    // Files not read yet (an earlier one failed) are closed, not left open.
    for (const file of input.files) if (!file.source.destroyed) file.source.destroy();
  }
}

async function nextPromptId(tx: TDb): Promise<number> {
  const [row] = await tx.execute<{ last: string | null }>(sql`select max(id) as last from prompts`);
  return Number(row?.last ?? 0) + 1;
}

async function importInTransaction(
  db: TDb,
  format: TImportFormat,
  input: Omit<TFormatImportInput, 'files'> & { files: TNamedSource[] },
  maxMessageBytes: number,
): Promise<TFormatImportResult> {
  return db.transaction(async (tx) => {
    const ctx: TWriteContext = {
      projectId: input.projectId,
      judgmentsRequired: input.judgmentsRequired,
      importUserId: labelledFormats.has(format) ? await ensureImportUser(tx) : null,
      sequences: await identitySequences(tx),
    };
    const run = new ImportRun(tx, ctx, input.onProgress, input);
    // Identity values only grow: every prompt this import adds gets an id above the current last one.
    const firstNewPromptId = input.dedupThreshold === undefined ? 0 : await nextPromptId(tx);
    if (format === 'answers') {
      await importAnswers(run, input.files, { models: input.models, maxMessageBytes });
    } else {
      const codec = lineCodecs[format];
      for (const file of input.files) {
        const source = labelledFormats.has(format) ? `${format}:${path.basename(file.name ?? 'upload')}` : null;
        await run.eachLine(file, async (json, ref) => {
          const record = codec(json);
          if (record.kind === 'comparison') ref.id = record.id ?? null;
          await run.add(prepareRecord(record, ref, { maxMessageBytes, source }));
        });
      }
    }
    const result = await run.finish();
    if (input.dedupThreshold !== undefined) {
      const dropped = await dedupImportedPrompts(tx, { projectId: input.projectId, firstNewPromptId, threshold: input.dedupThreshold, onProgress: input.onDedupProgress });
      result.dedupDropped = dropped;
      result.prompts -= dropped.length;
      result.imported -= dropped.reduce((n, d) => n + d.comparisons, 0);
    }
    return result;
  });
}
