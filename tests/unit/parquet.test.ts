import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import type { TPreferencePair } from '@/server/exports/preference-pairs';
import type { TSftLine } from '@/server/exports/sft';
import { writePreferencePairsParquet, writeSftParquet } from '@/server/formats/parquet';
import { collect, readWithArrow, readWithHyparquet } from '../helpers/parquet-read';

const messageType = 'Struct<{role:Utf8, content:Utf8, name:Utf8, tool_call_id:Utf8, tool_calls:List<Struct<{id:Utf8, type:Utf8, function:Struct<{name:Utf8, arguments:Utf8}>}>>}>';

const metadata = (i: number, extra: Partial<TPreferencePair['metadata']> = {}): TPreferencePair['metadata'] => ({
  judgment_id: 9_007_199_254_740_000 + i,
  comparison_id: 100 + i,
  comparison_external_id: `c-${i}`,
  annotator_id: 7,
  strength: 'better',
  relation: 'chosen>rejected',
  flags: [],
  chosen_model: 'model-a',
  rejected_model: 'model-b',
  chosen_origin: 'model',
  rejected_origin: 'model',
  guidelines_version: 2,
  review: null,
  source: null,
  ...extra,
});

const toolTurn: TMessage[] = [
  { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } }, { type: 'function', function: { name: 'time', arguments: '' } }] },
  { role: 'tool', content: '18 °C', tool_call_id: 'call_1', name: 'weather' },
  { role: 'assistant', content: 'It is 18 °C in Zürich.' },
];

const pairs: TPreferencePair[] = [
  {
    prompt: [
      { role: 'system', content: 'Réponds en français. 日本語も可。' },
      { role: 'user', content: 'Emoji 🧪👩🏽‍🔬, RTL שלום, combining é, NUL-free "quotes" \\ back\nslash' },
    ],
    chosen: [{ role: 'assistant', content: 'Voilà ✓' }],
    rejected: [{ role: 'assistant', content: '' }],
    metadata: metadata(0, { flags: ['unsafe', 'off-topic'], review: 'accept' }),
  },
  {
    prompt: [{ role: 'user', content: 'Weather?' }],
    chosen: toolTurn,
    rejected: [{ role: 'assistant', content: 'No idea.', tool_calls: [] }],
    metadata: metadata(1, { strength: null, chosen_model: null, rejected_model: null, chosen_origin: 'edit', relation: 'edited>chosen', guidelines_version: null, comparison_external_id: null }),
  },
  {
    prompt: [{ role: 'user', content: '' }],
    chosen: [{ role: 'assistant', content: 'x'.repeat(10_000) }],
    rejected: [{ role: 'ipython', content: 'print(1)' }],
    metadata: { ...metadata(2, { review: 'correct', strength: 'significantly_better' }), source: 'import' } as TPreferencePair['metadata'],
  },
];

async function* batchesOf<T>(rows: T[], size: number): AsyncGenerator<T[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/** A message as a struct column gives it: every field, absent ones null. */
const asStruct = (m: TMessage) => ({
  role: m.role,
  content: m.content,
  name: m.name ?? null,
  tool_call_id: m.tool_call_id ?? null,
  tool_calls: m.tool_calls?.map((c) => ({ id: c.id ?? null, type: c.type, function: c.function })) ?? null,
});

const expectedRow = (p: TPreferencePair) => ({
  prompt: p.prompt.map(asStruct),
  chosen: p.chosen.map(asStruct),
  rejected: p.rejected.map(asStruct),
  judgment_id: p.metadata.judgment_id,
  comparison_id: p.metadata.comparison_id,
  comparison_external_id: p.metadata.comparison_external_id,
  annotator_id: p.metadata.annotator_id,
  strength: p.metadata.strength,
  relation: p.metadata.relation,
  flags: p.metadata.flags,
  chosen_model: p.metadata.chosen_model,
  rejected_model: p.metadata.rejected_model,
  chosen_origin: p.metadata.chosen_origin,
  rejected_origin: p.metadata.rejected_origin,
  guidelines_version: p.metadata.guidelines_version,
  review: p.metadata.review,
  source: (p.metadata as { source?: string }).source ?? null,
});

/** hyparquet leaves out null fields where Arrow has them as null: compare without null fields. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value === 'bigint') return Number(value);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, withoutNulls(v)]));
  return value;
}

describe('Parquet preference pairs', () => {
  it('round-trip exactly through two independent readers: unicode, empty strings, tool calls, nulls', async () => {
    const file = await collect(writePreferencePairsParquet(batchesOf(pairs, 2), { rowGroupRows: 2 }));
    expect(file.subarray(0, 4).toString()).toBe('PAR1');
    expect(file.subarray(-4).toString()).toBe('PAR1');

    const arrow = readWithArrow(file);
    expect(arrow.numRows).toBe(3);
    expect(arrow.rows).toEqual(pairs.map(expectedRow));
    // An empty tool_calls list stays an empty list, distinct from an absent one (null).
    expect((arrow.rows[1]!.rejected as { tool_calls: unknown }[])[0]!.tool_calls).toEqual([]);
    expect((arrow.rows[1]!.chosen as { tool_calls: unknown }[])[2]!.tool_calls).toBeNull();

    const hy = await readWithHyparquet(file);
    expect(hy.metadata.num_rows).toBe(3n);
    expect(hy.metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([2, 1]);
    expect(withoutNulls(hy.rows)).toEqual(withoutNulls(pairs.map(expectedRow)));
  });

  it('has the Arrow schema of TRL conversational columns, with the metadata as scalar columns', async () => {
    const { fields } = readWithArrow(await collect(writePreferencePairsParquet(batchesOf(pairs, 3))));
    expect(Object.fromEntries(fields.map((f) => [f.name, f.type]))).toEqual({
      prompt: `List<${messageType}>`,
      chosen: `List<${messageType}>`,
      rejected: `List<${messageType}>`,
      judgment_id: 'Int64',
      comparison_id: 'Int64',
      comparison_external_id: 'Utf8',
      annotator_id: 'Int64',
      strength: 'Utf8',
      relation: 'Utf8',
      flags: 'List<Utf8>',
      chosen_model: 'Utf8',
      rejected_model: 'Utf8',
      chosen_origin: 'Utf8',
      rejected_origin: 'Utf8',
      guidelines_version: 'Int32',
      review: 'Utf8',
      source: 'Utf8',
    });
    const nullable = fields.filter((f) => f.nullable).map((f) => f.name);
    expect(nullable).toEqual(['prompt', 'chosen', 'rejected', 'comparison_external_id', 'strength', 'flags', 'chosen_model', 'rejected_model', 'guidelines_version', 'review', 'source']);
  });

  it('uses the 3-level LIST layout that pyarrow writes (LIST group > repeated "list" > "element")', async () => {
    const { metadata } = await readWithHyparquet(await collect(writePreferencePairsParquet(batchesOf(pairs, 3))));
    const schema = metadata.schema;
    const at = (name: string, from = 0) => schema.findIndex((e, i) => i >= from && e.name === name);
    for (const column of ['prompt', 'chosen', 'rejected', 'flags']) {
      const i = at(column);
      expect(schema[i]).toMatchObject({ repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 });
      expect(schema[i + 1]).toMatchObject({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      expect(schema[i + 2]).toMatchObject({ name: 'element', repetition_type: 'OPTIONAL' });
    }
    const prompt = at('prompt');
    expect(schema.slice(prompt + 2, prompt + 5)).toMatchObject([
      { name: 'element', num_children: 5 },
      { name: 'role', type: 'BYTE_ARRAY', logical_type: { type: 'STRING' }, repetition_type: 'REQUIRED' },
      { name: 'content', type: 'BYTE_ARRAY', logical_type: { type: 'STRING' }, repetition_type: 'REQUIRED' },
    ]);
    const toolCalls = at('tool_calls', prompt);
    expect(schema.slice(toolCalls, toolCalls + 8)).toMatchObject([
      { name: 'tool_calls', converted_type: 'LIST', logical_type: { type: 'LIST' }, repetition_type: 'OPTIONAL' },
      { name: 'list', repetition_type: 'REPEATED' },
      { name: 'element', num_children: 3, repetition_type: 'OPTIONAL' },
      { name: 'id', logical_type: { type: 'STRING' } },
      { name: 'type', logical_type: { type: 'STRING' } },
      { name: 'function', num_children: 2 },
      { name: 'name', logical_type: { type: 'STRING' } },
      { name: 'arguments', logical_type: { type: 'STRING' } },
    ]);
  });

  it('writes a valid file with the full schema and zero rows for an empty selection', async () => {
    const file = await collect(writePreferencePairsParquet(batchesOf<TPreferencePair>([], 10)));
    const arrow = readWithArrow(file);
    expect(arrow.numRows).toBe(0);
    expect(arrow.rows).toEqual([]);
    expect(arrow.fields.map((f) => f.name)).toEqual(Object.keys(expectedRow(pairs[0]!)));
    expect(arrow.fields[0]!.type).toBe(`List<${messageType}>`);
    const hy = await readWithHyparquet(file);
    expect(hy.metadata.num_rows).toBe(0n);
    expect(hy.metadata.row_groups).toEqual([]);
    expect(hy.rows).toEqual([]);
  });

  it('streams: one row group per N rows, each yielded before the input is exhausted', async () => {
    let pulled = 0;
    const rows = Array.from({ length: 1_000 }, (_, i) => ({ ...pairs[i % 3]!, metadata: metadata(i) }));
    async function* source() {
      for await (const batch of batchesOf(rows, 50)) {
        pulled += batch.length;
        yield batch;
      }
    }
    const chunks: Buffer[] = [];
    const pulledAtChunk: number[] = [];
    let reported = 0;
    for await (const chunk of writePreferencePairsParquet(source(), { rowGroupRows: 100, onRows: (n) => (reported += n) })) {
      chunks.push(chunk);
      pulledAtChunk.push(pulled);
    }
    // The magic number, ten row groups, then the footer.
    expect(chunks).toHaveLength(12);
    expect(pulledAtChunk.slice(1, 11)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(reported).toBe(1_000);
    const file = Buffer.concat(chunks);
    const hy = await readWithHyparquet(file);
    expect(hy.metadata.row_groups.map((g) => Number(g.num_rows))).toEqual(Array(10).fill(100));
    expect(readWithArrow(file).rows.map((r) => r.judgment_id)).toEqual(rows.map((r) => r.metadata.judgment_id));
  });

  it('closes a row group early when its text passes the byte limit', async () => {
    const big = Array.from({ length: 10 }, (_, i) => ({ ...pairs[2]!, metadata: metadata(i) }));
    const file = await collect(writePreferencePairsParquet(batchesOf(big, 10), { rowGroupRows: 1_000, rowGroupBytes: 25_000 }));
    const hy = await readWithHyparquet(file);
    // Each pair holds a little over 10,000 characters: three pairs pass 25,000.
    expect(hy.metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([3, 3, 3, 1]);
    expect(readWithArrow(file).numRows).toBe(10);
  });
});

describe('Parquet SFT conversations', () => {
  it('writes a messages column of the same struct type, round-tripping exactly', async () => {
    const lines: TSftLine[] = [{ messages: [...pairs[0]!.prompt, ...pairs[0]!.chosen] }, { messages: [{ role: 'user', content: 'Weather?' }, ...toolTurn] }, { messages: [] }];
    const file = await collect(writeSftParquet(batchesOf(lines, 2)));
    const arrow = readWithArrow(file);
    expect(arrow.fields).toEqual([{ name: 'messages', type: `List<${messageType}>`, nullable: true }]);
    expect(arrow.rows).toEqual(lines.map((l) => ({ messages: l.messages.map(asStruct) })));
    expect(withoutNulls((await readWithHyparquet(file)).rows)).toEqual(withoutNulls(lines.map((l) => ({ messages: l.messages.map(asStruct) }))));
  });

  it('writes zero rows as a valid file with the messages column', async () => {
    const arrow = readWithArrow(await collect(writeSftParquet(batchesOf<TSftLine>([], 1))));
    expect(arrow).toMatchObject({ numRows: 0, fields: [{ name: 'messages', type: `List<${messageType}>` }] });
  });
});

const pyarrowAvailable = spawnSync('python3', ['-c', 'import pyarrow'], { stdio: 'ignore' }).status === 0;

describe('reading with pyarrow and datasets (tests/fixtures/check_parquet.py)', () => {
  it('loads the file with pyarrow and datasets.load_dataset("parquet")', async (context) => {
    if (!pyarrowAvailable) context.skip('python3 cannot import pyarrow on this machine: install pyarrow and datasets to run this check');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-parquet-'));
    try {
      const file = path.join(dir, 'pairs.parquet');
      fs.writeFileSync(file, await collect(writePreferencePairsParquet(batchesOf(pairs, 3))));
      const run = spawnSync('python3', ['tests/fixtures/check_parquet.py', file], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain('pyarrow rows: 3');
      expect(run.stdout).toMatch(/prompt: list<(element|item): struct<role: string not null, content: string not null/);
      if (!run.stdout.includes('datasets: not installed')) expect(run.stdout).toContain('datasets rows: 3');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
