import type { TMessage } from '@/db/schema';
import type { TArtifactStore } from '../artifacts/store';
import { AppError } from '../errors';
import type { TPreferencePair } from '../exports/preference-pairs';
import type { TSftLine } from '../exports/sft';
import { jsonLinesOf, writeJsonLines } from '../formats/json-lines';
import type { TOpenAiSkip } from '../formats/openai-preference';
import { formatPreferencePair, isTrainingFormat, preferenceFormats, type TPreferenceFormat } from '../formats/preference-formats';
import { writePreferencePairsParquet, writeSftParquet } from '../formats/parquet';
import { splitSftConversation, toSftCompletion } from '../formats/sft-completion';
import { trainingMessages } from '../formats/training-messages';
import { readLines } from '../imports/read-lines';
import type { TDatasetSpec } from './spec';
import type { TSplit } from './split';
import type { TVersionCounts, TVersionSummary } from './statistics';

/** Where a version's files live in the artifact store. */
export function versionKeys(versionId: number) {
  const prefix = `datasets/${versionId}/`;
  return {
    prefix,
    pairs: `${prefix}pairs.jsonl`,
    manifest: `${prefix}manifest.json`,
    dedupReport: `${prefix}dedup-report.jsonl`,
    /** SFT versions (rejection sampling's output): `{"messages": [...]}` a line, all of it train data. */
    sft: `${prefix}sft.jsonl`,
  };
}

/** One line of a version's canonical pairs file: TRL's explicit-prompt columns, the split, and provenance. */
export interface TCanonicalLine {
  split: TSplit;
  prompt: TMessage[];
  chosen: TMessage[];
  rejected: TMessage[];
  metadata: TPreferencePair['metadata'] & { project: string; prompt_hash: string };
}

export interface TVersionManifest {
  id: number;
  name: string;
  spec: TDatasetSpec;
  /** sha256 over the canonical spec and the pairs file: same spec over the same data, same hash. */
  contentHash: string;
  counts: TVersionCounts;
  dropped: { strength: number; unrated: number; model: number; dedup: number; dedupPrompts: number };
  statistics: TVersionSummary;
  files: { key: string; bytes: number; description: string }[];
  lineage: { projects: { id: number; slug: string; name: string }[]; judgments: number; judgmentTable: string };
  builtBy: { id: number; email: string; name: string | null } | null;
  requestedAt: string;
  builtAt: string;
}

/**
 * What a version can be downloaded as: every preference format; SFT as `sft` (`{"messages": [...]}`)
 * or `sft-completion` (`{"prompt": [...], "completion": [...]}`, TRL's prompt/completion form,
 * which trains on the completion only with any chat template); and Parquet with TRL's columns.
 */
export const versionFormats = [...preferenceFormats, 'sft', 'sft-completion', 'parquet'] as const;
export type TVersionFormat = (typeof versionFormats)[number];
export const versionSplits = ['train', 'test', 'all'] as const;
export type TVersionSplit = (typeof versionSplits)[number];

/** The canonical lines of a version, one split or both, streamed from the artifact store. */
export async function* readCanonicalLines(store: TArtifactStore, versionId: number, split: TVersionSplit): AsyncGenerator<TCanonicalLine> {
  for await (const { text } of readLines(await store.read(versionKeys(versionId).pairs))) {
    if (!text) continue;
    const line = JSON.parse(text) as TCanonicalLine;
    if (split === 'all' || line.split === split) yield line;
  }
}

/**
 * SFT lines from preference pairs: per judgment, the first pair whose chosen response is the
 * judgment's best (the edit, the chosen one of a pair, or rank 1 of a ranking).
 */
function isBestPair(relation: string): boolean {
  return relation.startsWith('edited>') || relation === 'chosen>rejected' || relation.startsWith('rank 1>');
}

/** SFT formats: what an SFT version downloads as, besides Parquet. */
const sftFormats: readonly TVersionFormat[] = ['sft', 'sft-completion'];

export interface TVersionExportOptions {
  format: TVersionFormat;
  split: TVersionSplit;
  /** Lines (Parquet: rows) written so far, a chunk at a time. */
  onRows?: (rows: number) => void;
  /** A pair the format cannot hold (only `openai` skips pairs), with the reason. */
  onSkipped?: (reason: TOpenAiSkip) => void;
}

/**
 * A version's file in a trainer format, streamed in constant memory: JSONL chunks of 256 lines
 * (training formats open with their shape witnesses, see server/formats/json-lines.ts), or
 * Parquet row groups. An SFT version (it has sft.jsonl instead of pairs) streams as `sft`,
 * `sft-completion` or `parquet` only.
 */
export async function* streamVersionExport(store: TArtifactStore, versionId: number, options: TVersionExportOptions): AsyncGenerator<string | Buffer> {
  if ((await store.size(versionKeys(versionId).sft)) !== null) {
    yield* streamSftVersion(store, versionId, options);
    return;
  }
  if (options.format === 'parquet') {
    yield* writePreferencePairsParquet(canonicalBatches(store, versionId, options.split), { onRows: options.onRows });
    return;
  }
  yield* writeJsonLines(jsonLinesOf(versionLineObjects(store, versionId, { ...options, format: options.format })), {
    witnessesFirst: isTrainingFormat(options.format),
    onRows: options.onRows,
  });
}

/** An SFT version's lines, parsed. It has no test split: every line is train data. */
async function* readSftLines(store: TArtifactStore, versionId: number): AsyncGenerator<TSftLine> {
  for await (const { text } of readLines(await store.read(versionKeys(versionId).sft))) {
    if (text) yield JSON.parse(text) as TSftLine;
  }
}

/** An SFT version downloads as `sft` or `sft-completion` JSON lines or as Parquet with a `messages` column; preference formats need pairs it does not have. */
async function* streamSftVersion(store: TArtifactStore, versionId: number, options: TVersionExportOptions): AsyncGenerator<string | Buffer> {
  if (!sftFormats.includes(options.format) && options.format !== 'parquet') {
    throw new AppError(
      'BAD_REQUEST',
      `dataset version ${versionId} holds SFT conversations, not preference pairs: download it as sft-completion, sft or parquet, not ${options.format}`,
      { field: 'format' },
    );
  }
  if (options.split === 'test') {
    throw new AppError('BAD_REQUEST', `dataset version ${versionId} holds SFT conversations, all of them train data: it has no test split`, { field: 'split' });
  }
  if (options.format === 'parquet') {
    yield* writeSftParquet(batchesOf(readSftLines(store, versionId)), { onRows: options.onRows });
    return;
  }
  const completion = options.format === 'sft-completion';
  const conversations = async function* () {
    for await (const line of readSftLines(store, versionId)) {
      yield completion ? splitSftConversation(line.messages) : { messages: trainingMessages(line.messages) };
    }
  };
  yield* writeJsonLines(jsonLinesOf(conversations()), { witnessesFirst: true, onRows: options.onRows });
}

async function* batchesOf<T>(items: AsyncIterable<T>, size = 1000): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** File name extension and HTTP content type of a version download. */
export function versionFileType(format: TVersionFormat): { extension: string; contentType: string } {
  return format === 'parquet'
    ? { extension: 'parquet', contentType: 'application/vnd.apache.parquet' }
    : { extension: 'jsonl', contentType: 'application/x-ndjson; charset=utf-8' };
}

function canonicalBatches(store: TArtifactStore, versionId: number, split: TVersionSplit): AsyncGenerator<TCanonicalLine[]> {
  return batchesOf(readCanonicalLines(store, versionId, split));
}

/**
 * A preference version's lines as objects in a JSONL format. `sft` and `sft-completion` take per
 * judgment the first pair whose chosen response is the judgment's best; `openai` reports the
 * pairs it cannot hold to `onSkipped`.
 */
async function* versionLineObjects(
  store: TArtifactStore,
  versionId: number,
  options: Omit<TVersionExportOptions, 'format'> & { format: Exclude<TVersionFormat, 'parquet'> },
): AsyncGenerator<object> {
  let lastJudgment: number | null = null;
  for await (const line of readCanonicalLines(store, versionId, options.split)) {
    if (options.format === 'sft' || options.format === 'sft-completion') {
      if (line.metadata.judgment_id === lastJudgment || !isBestPair(line.metadata.relation)) continue;
      lastJudgment = line.metadata.judgment_id;
      yield options.format === 'sft' ? { messages: trainingMessages([...line.prompt, ...line.chosen]) } : toSftCompletion(line.prompt, line.chosen);
      continue;
    }
    const formatted = formatPreferencePair(line, options.format as TPreferenceFormat);
    if ('line' in formatted) yield formatted.line;
    else options.onSkipped?.(formatted.skip);
  }
}
