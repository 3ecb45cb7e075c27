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
import { checkTrainingFile, datasetsPython } from '../helpers/python-datasets';

// A message is one JSON document (Parquet's JSON logical type); arrow-rs reads its storage, UTF-8 text.
const messageType = 'Utf8';

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

/** A message as the file holds it: only the keys it uses (an empty tool_calls list is none). */
const exact = (m: TMessage): Record<string, unknown> => {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.name !== undefined) out.name = m.name;
  if (m.tool_calls?.length) out.tool_calls = m.tool_calls;
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  return out;
};

/** Arrow gives a JSON column's text: the messages parsed back. */
const parsed = (messages: unknown) => (messages as string[]).map((m) => JSON.parse(m) as unknown);
const arrowRow = (row: Record<string, unknown>, columns = ['prompt', 'chosen', 'rejected']) => ({ ...row, ...Object.fromEntries(columns.map((c) => [c, parsed(row[c])])) });

const expectedRow = (p: TPreferencePair) => ({
  prompt: p.prompt.map(exact),
  chosen: p.chosen.map(exact),
  rejected: p.rejected.map(exact),
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
    expect(arrow.rows.map((r) => arrowRow(r))).toEqual(pairs.map(expectedRow));

    const hy = await readWithHyparquet(file);
    expect(hy.metadata.num_rows).toBe(3n);
    expect(hy.metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([2, 1]);
    expect(withoutNulls(hy.rows)).toEqual(withoutNulls(pairs.map(expectedRow)));
  });

  it('gives each message only the keys it has: no tool_calls on a message without a tool call, for Llama 3.1’s template', async () => {
    const { rows } = await readWithHyparquet(await collect(writePreferencePairsParquet(batchesOf(pairs, 3))));
    const messages = rows.flatMap((r) => [r.prompt, r.chosen, r.rejected] as Record<string, unknown>[][]).flat();
    expect(messages.length).toBe(12);
    for (const m of messages) {
      expect(Object.values(m), JSON.stringify(m)).not.toContain(null);
      expect(m.tool_calls === undefined || (Array.isArray(m.tool_calls) && m.tool_calls.length > 0), JSON.stringify(m)).toBe(true);
    }
    // `tool_calls: []` was written as none; the tool call's result keeps its own keys.
    expect((rows[1]!.rejected as object[])[0]).toEqual({ role: 'assistant', content: 'No idea.' });
    expect((rows[1]!.chosen as object[])[1]).toEqual({ role: 'tool', content: '18 °C', name: 'weather', tool_call_id: 'call_1' });
    expect(Object.keys((rows[1]!.chosen as object[])[2]!)).toEqual(['role', 'content']);
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
    for (const column of ['prompt', 'chosen', 'rejected']) {
      // `optional binary element (JSON)`, as pyarrow writes a list of `arrow.json`.
      expect(schema[at(column) + 2]).toMatchObject({ name: 'element', type: 'BYTE_ARRAY', converted_type: 'JSON', logical_type: { type: 'JSON' }, repetition_type: 'OPTIONAL' });
    }
    // The features `datasets` reads the message columns as, whatever the reader makes of the JSON type.
    const huggingface = metadata.key_value_metadata?.find((kv) => kv.key === 'huggingface');
    expect(JSON.parse(huggingface!.value!)).toEqual({
      info: { features: Object.fromEntries(['prompt', 'chosen', 'rejected'].map((c) => [c, { feature: { _type: 'Json' }, _type: 'List' }])) },
    });
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
    expect(arrow.rows.map((r) => arrowRow(r, ['messages']))).toEqual(lines.map((l) => ({ messages: l.messages.map(exact) })));
    expect((await readWithHyparquet(file)).rows).toEqual(lines.map((l) => ({ messages: l.messages.map(exact) })));
  });

  it('writes zero rows as a valid file with the messages column', async () => {
    const arrow = readWithArrow(await collect(writeSftParquet(batchesOf<TSftLine>([], 1))));
    expect(arrow).toMatchObject({ numRows: 0, fields: [{ name: 'messages', type: `List<${messageType}>` }] });
  });
});

const python = datasetsPython();

describe('reading with pyarrow and datasets', () => {
  it('loads with pyarrow and datasets.load_dataset("parquet") (tests/fixtures/check_parquet.py)', async (context) => {
    if (!('python' in python)) context.skip(python.why);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-parquet-'));
    try {
      const file = path.join(dir, 'pairs.parquet');
      fs.writeFileSync(file, await collect(writePreferencePairsParquet(batchesOf(pairs, 3))));
      const run = spawnSync((python as { python: string }).python, ['tests/fixtures/check_parquet.py', file], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain('pyarrow rows: 3');
      expect(run.stdout).toMatch(/prompt: list<(element|item): extension<arrow\.json>>/);
      expect(run.stdout).toContain('datasets rows: 3');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives TRL its messages as written, and Llama 3.1’s chat template renders every conversation (tests/fixtures/python)', async (context) => {
    if (!('python' in python)) context.skip(python.why);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-parquet-'));
    try {
      // Llama 3.1's template takes one tool call per message.
      const singleCalls = pairs.map((p) => ({ ...p, chosen: p.chosen.map((m) => (m.tool_calls ? { ...m, tool_calls: m.tool_calls.slice(0, 1) } : m)) }));
      const file = path.join(dir, 'pairs.parquet');
      fs.writeFileSync(file, await collect(writePreferencePairsParquet(batchesOf(singleCalls, 3))));
      const run = checkTrainingFile((python as { python: string }).python, file);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain("'prompt': List(Json(decode=True))");
      expect(run.stdout).toContain('rows: 3');
      if (!run.stdout.includes('template: not found')) expect(run.stdout).toContain('rendered: 6\n');

      const sft = path.join(dir, 'sft.parquet');
      fs.writeFileSync(sft, await collect(writeSftParquet(batchesOf<TSftLine>([{ messages: [{ role: 'user', content: 'Weather?' }, ...singleCalls[1]!.chosen] }], 1))));
      const sftRun = checkTrainingFile((python as { python: string }).python, sft);
      expect(sftRun.status, sftRun.stderr).toBe(0);
      expect(sftRun.stdout).toContain("'messages': List(Json(decode=True))");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
