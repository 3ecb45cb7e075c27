import { tableFromIPC } from 'apache-arrow';
import { parquetMetadata, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { readParquet } from 'parquet-wasm';

/** Collects the chunks of a writer into one buffer. */
export async function collect(chunks: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(parts);
}

const toArrayBuffer = (file: Buffer): ArrayBuffer => file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;

/** hyparquet's view: the file's own metadata (schema elements, row groups) and its rows. */
export async function readWithHyparquet(file: Buffer): Promise<{ metadata: FileMetaData; rows: Record<string, unknown>[] }> {
  const buffer = toArrayBuffer(file);
  return { metadata: parquetMetadata(buffer), rows: await parquetReadObjects({ file: buffer }) };
}

// bigint ids become numbers, so rows compare with plain objects.
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)));

/**
 * arrow-rs's view (parquet-wasm), an implementation independent of the writer: the Arrow schema
 * a Parquet reader derives (what pyarrow and `datasets` see) and the rows as plain objects.
 */
export function readWithArrow(file: Buffer): { fields: { name: string; type: string; nullable: boolean }[]; numRows: number; rows: Record<string, unknown>[] } {
  const table = tableFromIPC(readParquet(new Uint8Array(file)).intoIPCStream());
  return {
    fields: table.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
    numRows: table.numRows,
    rows: table.toArray().map((row: { toJSON(): unknown }) => plain(row.toJSON()) as Record<string, unknown>),
  };
}
