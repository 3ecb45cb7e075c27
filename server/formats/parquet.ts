import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import type { TMessage } from '@/db/schema';
import type { TPreferencePair } from '../exports/preference-pairs';
import type { TSftLine } from '../exports/sft';
import { trainingMessage } from './training-messages';

/**
 * Parquet files of preference pairs and SFT conversations, as Hugging Face `datasets` and
 * TRL read them. A message list is `list<JSON>`: each message one JSON document (Parquet's JSON
 * logical type, pyarrow's `arrow.json`, the `Json` feature of `datasets` >= 4.7, which TRL 1.13
 * requires), in the 3-level LIST layout that pyarrow writes, so `load_dataset("parquet", ...)`
 * gives conversational columns whose messages are exactly what was exported.
 *
 * Why not `list<struct<role, content, name, tool_call_id, tool_calls>>`: a struct has every
 * field on every row, so `datasets` hands back `tool_calls: None` (or `[]`) on messages that
 * have no tool call, and Llama 3.1's chat template, which tests `'tool_calls' in message`,
 * fails on either. A struct without `tool_calls` loses the tool calls of the files that have
 * them. JSON keeps each message's own keys (see training-messages.ts).
 *
 * Rows are encoded one row group at a time and each group's bytes are yielded as soon as it is
 * written, so memory is bounded by the row group, not by the file.
 */

export interface TParquetOptions {
  /** Rows per row group (the last group may be smaller). */
  rowGroupRows?: number;
  /** A row group also closes once its text reaches this many bytes (long conversations). */
  rowGroupBytes?: number;
  /** Called with the number of rows of each input batch once it is buffered. */
  onRows?: (rows: number) => void;
}

// Measured: 200,000 conversational pairs stream in about 220 MiB RSS at 2,000 rows a group, 280 MiB at
// 5,000, 340 MiB at 10,000; the file size hardly changes.
export const defaultRowGroupRows = 2_000;
export const defaultRowGroupBytes = 16 * 1024 * 1024;

type TRepetition = 'REQUIRED' | 'OPTIONAL';

const utf8 = (name: string, repetition: TRepetition = 'OPTIONAL'): SchemaElement => ({
  name,
  type: 'BYTE_ARRAY',
  converted_type: 'UTF8',
  logical_type: { type: 'STRING' },
  repetition_type: repetition,
});

const int64 = (name: string): SchemaElement => ({ name, type: 'INT64', repetition_type: 'REQUIRED' });

/** `optional group <name> (LIST) { repeated group list { <element> } }`, the element named `element`. */
const list = (name: string, element: SchemaElement[]): SchemaElement[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  ...element,
];

/** A message: one JSON document (`optional binary element (JSON)`, as pyarrow writes `arrow.json`). */
const message: SchemaElement = { name: 'element', type: 'BYTE_ARRAY', converted_type: 'JSON', logical_type: { type: 'JSON' }, repetition_type: 'OPTIONAL' };

const messages = (name: string) => list(name, [message]);

function schemaOf(columns: SchemaElement[][]): SchemaElement[] {
  return [{ name: 'schema', num_children: columns.length }, ...columns.flat()];
}

/** Column order and types of a preference-pair file; the pair's metadata is flattened into scalar columns. */
export const preferencePairsParquetSchema: SchemaElement[] = schemaOf([
  messages('prompt'),
  messages('chosen'),
  messages('rejected'),
  [int64('judgment_id')],
  [int64('comparison_id')],
  [utf8('comparison_external_id')],
  [int64('annotator_id')],
  [utf8('strength')],
  [utf8('relation', 'REQUIRED')],
  list('flags', [utf8('element')]),
  [utf8('chosen_model')],
  [utf8('rejected_model')],
  [utf8('chosen_origin', 'REQUIRED')],
  [utf8('rejected_origin', 'REQUIRED')],
  [{ name: 'guidelines_version', type: 'INT32', repetition_type: 'OPTIONAL' }],
  [utf8('review')],
  [utf8('source')],
]);

export const sftParquetSchema: SchemaElement[] = schemaOf([messages('messages')]);

/**
 * The `datasets` features of the message columns, `List(Json())`, in the `huggingface` key-value
 * metadata as `Dataset.to_parquet` writes it. `datasets` gets the same from the JSON logical type
 * itself wherever pyarrow maps it to `arrow.json` (the default since pyarrow 21); the other
 * columns' features follow their types.
 */
function huggingFaceMetadata(messageColumns: string[]): { key: string; value: string }[] {
  const features = Object.fromEntries(messageColumns.map((c) => [c, { feature: { _type: 'Json' }, _type: 'List' }]));
  return [{ key: 'huggingface', value: JSON.stringify({ info: { features } }) }];
}

function textBytes(messages: TMessage[]): number {
  let n = 0;
  for (const m of messages) {
    n += m.content.length;
    for (const c of m.tool_calls ?? []) n += c.function.arguments.length + c.function.name.length;
  }
  return n;
}

/** The judgment's source where the pairs carry one (e.g. imported judgments), else null. */
function sourceOf(metadata: TPreferencePair['metadata']): string | null {
  const source = (metadata as { source?: unknown }).source;
  return typeof source === 'string' ? source : null;
}

interface TColumnSpec<Row> {
  name: string;
  value: (row: Row) => unknown;
}

const pairColumns: TColumnSpec<TPreferencePair>[] = [
  { name: 'prompt', value: (p) => p.prompt.map(trainingMessage) },
  { name: 'chosen', value: (p) => p.chosen.map(trainingMessage) },
  { name: 'rejected', value: (p) => p.rejected.map(trainingMessage) },
  { name: 'judgment_id', value: (p) => BigInt(p.metadata.judgment_id) },
  { name: 'comparison_id', value: (p) => BigInt(p.metadata.comparison_id) },
  { name: 'comparison_external_id', value: (p) => p.metadata.comparison_external_id },
  { name: 'annotator_id', value: (p) => BigInt(p.metadata.annotator_id) },
  { name: 'strength', value: (p) => p.metadata.strength },
  { name: 'relation', value: (p) => p.metadata.relation },
  { name: 'flags', value: (p) => p.metadata.flags },
  { name: 'chosen_model', value: (p) => p.metadata.chosen_model },
  { name: 'rejected_model', value: (p) => p.metadata.rejected_model },
  { name: 'chosen_origin', value: (p) => p.metadata.chosen_origin },
  { name: 'rejected_origin', value: (p) => p.metadata.rejected_origin },
  { name: 'guidelines_version', value: (p) => p.metadata.guidelines_version },
  { name: 'review', value: (p) => p.metadata.review },
  { name: 'source', value: (p) => sourceOf(p.metadata) },
];

const sftColumns: TColumnSpec<TSftLine>[] = [{ name: 'messages', value: (l) => l.messages.map(trainingMessage) }];

async function* writeParquet<Row>(
  schema: SchemaElement[],
  messageColumns: string[],
  columns: TColumnSpec<Row>[],
  size: (row: Row) => number,
  batches: AsyncIterable<Row[]>,
  options: TParquetOptions,
): AsyncGenerator<Buffer> {
  const maxRows = options.rowGroupRows ?? defaultRowGroupRows;
  const maxBytes = options.rowGroupBytes ?? defaultRowGroupBytes;
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new Error(`rowGroupRows must be a positive integer, not ${maxRows}`);
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({ writer, schema, kvMetadata: huggingFaceMetadata(messageColumns) });

  // The bytes written since the last call, copied out so the writer's buffer can be reused.
  const drain = (): Buffer => {
    const chunk = Buffer.from(writer.getBytes());
    writer.index = 0;
    return chunk;
  };

  let group: Row[] = [];
  let groupBytes = 0;
  const writeGroup = () => {
    const result = parquet.write({
      columnData: columns.map((c) => ({ name: c.name, data: group.map(c.value) })),
      rowGroupSize: group.length,
    });
    if (result) throw new Error('the Parquet writer flushed asynchronously; expected a synchronous ByteWriter');
    group = [];
    groupBytes = 0;
  };

  yield drain();
  for await (const batch of batches) {
    for (const row of batch) {
      group.push(row);
      groupBytes += size(row);
      if (group.length >= maxRows || groupBytes >= maxBytes) {
        writeGroup();
        yield drain();
      }
    }
    options.onRows?.(batch.length);
  }
  if (group.length > 0) writeGroup();
  parquet.finish();
  const tail = drain();
  if (parquet.row_groups.length === 0) fixEmptyRowGroupList(tail);
  yield tail;
}

// Compact protocol bytes of FileMetaData from num_rows on, for a file without row groups:
// num_rows = 0 (i64), row_groups = empty list, then key_value_metadata (list, field 5; the
// `datasets` features) or, without it, created_by (binary, field 6).
const emptyRowGroups = [Buffer.from([0x16, 0x00, 0x19, 0x00, 0x19]), Buffer.from([0x16, 0x00, 0x19, 0x00, 0x28])];
const structListHeader = 0x0c;

/**
 * hyparquet-writer writes an empty thrift list with element type 0; strict readers (arrow-rs,
 * hence polars and DataFusion) refuse the footer. An empty `row_groups` list must say its
 * elements are structs, as every other writer does.
 */
function fixEmptyRowGroupList(tail: Buffer): void {
  const footerLength = tail.readUInt32LE(tail.length - 8);
  const footerStart = tail.length - 8 - footerLength;
  const at = Math.max(...emptyRowGroups.map((bytes) => tail.lastIndexOf(bytes, tail.length - 8)));
  if (footerStart < 0 || at < footerStart) throw new Error('unexpected Parquet footer layout for a file without rows');
  tail[at + 3] = structListHeader;
}

/**
 * One Parquet file of preference pairs, as Buffer chunks: `prompt`, `chosen`, `rejected` message
 * lists (TRL's conversational preference columns) and the metadata as scalar columns (typed and
 * nullable: Parquet carries its schema, so the nulls of JSON lines' metadata are no risk here).
 */
export function writePreferencePairsParquet(batches: AsyncIterable<TPreferencePair[]>, options: TParquetOptions = {}): AsyncGenerator<Buffer> {
  return writeParquet(preferencePairsParquetSchema, ['prompt', 'chosen', 'rejected'], pairColumns, (p) => textBytes(p.prompt) + textBytes(p.chosen) + textBytes(p.rejected), batches, options);
}

/** One Parquet file of SFT conversations (`messages`), as Buffer chunks. */
export function writeSftParquet(batches: AsyncIterable<TSftLine[]>, options: TParquetOptions = {}): AsyncGenerator<Buffer> {
  return writeParquet(sftParquetSchema, ['messages'], sftColumns, (l) => textBytes(l.messages), batches, options);
}
