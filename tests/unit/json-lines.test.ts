import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import type { TPreferencePair } from '@/server/exports/preference-pairs';
import { jsonLinesOf, shapeFeatures, writeJsonLines } from '@/server/formats/json-lines';
import { formatPreferencePair, type TPreferenceFormat } from '@/server/formats/preference-formats';
import { splitSftConversation, toSftCompletion } from '@/server/formats/sft-completion';
import { checkTrainingFile, datasetsPython } from '../helpers/python-datasets';
import { expectStableTrainingSchema, parseLines } from '../helpers/training-schema';

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const chunk of chunks) out += chunk;
  return out;
}

const toolAnswer: TMessage[] = [
  { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } }] },
  { role: 'tool', content: '18 °C', tool_call_id: 'call_1' },
  { role: 'assistant', content: 'Es sind 18 °C.' },
];

/**
 * 300 plain pairs with empty flags, no strength, review or source, then (late, as a second
 * import would put them) a pair with a tool-using answer, flags, a review and a source.
 */
function latePairs(): TPreferencePair[] {
  const metadata = (i: number): TPreferencePair['metadata'] => ({
    judgment_id: i, comparison_id: i, comparison_external_id: null, annotator_id: 1, strength: null, relation: 'chosen>rejected', flags: [],
    chosen_model: null, rejected_model: null, chosen_origin: 'model', rejected_origin: 'model', guidelines_version: null, review: null, source: null,
  });
  const plain = Array.from({ length: 300 }, (_, i) => ({
    prompt: [{ role: 'user', content: `Question ${i}: ${'lorem ipsum '.repeat(8)}` }],
    chosen: [{ role: 'assistant', content: `Answer ${i}` }],
    rejected: [{ role: 'assistant', content: `Worse ${i}` }],
    metadata: metadata(i),
  })) satisfies TPreferencePair[];
  const tools: TPreferencePair = {
    prompt: [{ role: 'system', content: 'Use tools.' }, { role: 'user', content: 'Wetter in Zürich?' }],
    chosen: toolAnswer,
    rejected: [{ role: 'assistant', content: 'Keine Ahnung.' }],
    metadata: { ...metadata(300), flags: ['unsafe'], strength: 'better', review: 'accept', source: 'trl:pairs.jsonl', guidelines_version: 2, chosen_model: 'm' },
  };
  return [...plain, tools, ...plain.slice(0, 20).map((p, i) => ({ ...p, metadata: metadata(301 + i) }))];
}

function lineObjects(pairs: TPreferencePair[], format: TPreferenceFormat): object[] {
  return pairs.map((p) => formatPreferencePair(p, format)).flatMap((f) => ('line' in f ? [f.line] : []));
}

describe('shape features', () => {
  it('name each object’s key set and each value’s JSON type, an empty list apart', () => {
    expect([...shapeFeatures({ a: [], b: [{ role: 'user', content: 'x' }], c: null, d: 1, e: 1.5 })].sort()).toEqual([
      '$.a:[]',
      '$.b[]:{content,role}',
      '$.b[].content:string',
      '$.b[].role:string',
      '$.c:null',
      '$.d:int',
      '$.e:float',
      '$:{a,b,c,d,e}',
    ].sort());
  });
});

describe('JSON lines for trainers', () => {
  it('write in order, in chunks of 256 lines, reporting every line once', async () => {
    const objects = Array.from({ length: 600 }, (_, i) => ({ i }));
    let rows = 0;
    const chunks: string[] = [];
    for await (const chunk of writeJsonLines(jsonLinesOf(from(objects)), { witnessesFirst: false, onRows: (n) => (rows += n) })) chunks.push(chunk);
    expect(chunks.map((c) => c.split('\n').length - 1)).toEqual([256, 256, 88]);
    expect(rows).toBe(600);
    expect(parseLines(chunks.join(''))).toEqual(objects);
  });

  it('open a training file with the first line of every shape, then every other line in its order', async () => {
    const objects = lineObjects(latePairs(), 'trl');
    let rows = 0;
    const out = parseLines(await text(writeJsonLines(jsonLinesOf(from(objects)), { witnessesFirst: true, onRows: (n) => (rows += n) })));
    expect(rows).toBe(objects.length);
    expect(out).toHaveLength(objects.length);
    // The tool pair (line 301) shows shapes no earlier line has: it moves to the second line.
    expect(out[0]).toEqual(objects[0]);
    expect(out[1]).toEqual(objects[300]);
    expect(out.slice(2)).toEqual([...objects.slice(1, 300), ...objects.slice(301)]);
    expectStableTrainingSchema(out);
    // In their own order the lines fail the check: the tool call's shape first shows on line 301.
    expect(() => expectStableTrainingSchema(objects as Record<string, unknown>[])).toThrow(/lead the file/);
  });

  it('keep a file whose lines all look alike in order, and write nothing for no lines', async () => {
    const objects = lineObjects(latePairs().slice(0, 50), 'trl-implicit');
    expect(parseLines(await text(writeJsonLines(jsonLinesOf(from(objects)), { witnessesFirst: true })))).toEqual(objects);
    expect(await text(writeJsonLines(jsonLinesOf(from([])), { witnessesFirst: true }))).toBe('');
  });

  it('give every training format one schema from the first line: trl, trl-implicit, sft-completion', async () => {
    const pairs = latePairs();
    for (const format of ['trl', 'trl-implicit'] as const) {
      expectStableTrainingSchema(parseLines(await text(writeJsonLines(jsonLinesOf(from(lineObjects(pairs, format))), { witnessesFirst: true }))));
    }
    const completions = pairs.map((p) => toSftCompletion(p.prompt, p.chosen));
    const written = parseLines(await text(writeJsonLines(jsonLinesOf(from(completions)), { witnessesFirst: true })));
    expectStableTrainingSchema(written);
    expect(Object.keys(written[0]!)).toEqual(['prompt', 'completion']);
  });
});

describe('SFT prompt/completion lines', () => {
  it('split a context and its answer, a multi-message answer staying whole in the completion', () => {
    const prompt: TMessage[] = [{ role: 'user', content: 'Wetter?' }];
    expect(toSftCompletion(prompt, toolAnswer)).toEqual({ prompt, completion: toolAnswer });
  });

  it('take an SFT version’s last message, the sampled answer, as the completion, even after a tool result in the prompt', () => {
    const conversation: TMessage[] = [{ role: 'user', content: 'Wetter?' }, toolAnswer[0]!, toolAnswer[1]!, { role: 'assistant', content: 'Sonnig.' }];
    expect(splitSftConversation(conversation)).toEqual({ prompt: conversation.slice(0, 3), completion: [{ role: 'assistant', content: 'Sonnig.' }] });
    expect(() => splitSftConversation([{ role: 'user', content: 'Hi' }])).toThrow(/ends with a user message/);
    expect(() => splitSftConversation([{ role: 'assistant', content: 'Hi' }])).toThrow(/after a prompt/);
  });
});

const python = datasetsPython();

describe('loading with datasets.load_dataset("json") (tests/fixtures/python)', () => {
  it('loads a training file whose tool calls, flags and review first show late, and renders it with Llama 3.1’s template', async (context) => {
    if (!('python' in python)) context.skip(python.why);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-json-lines-'));
    try {
      // 16 KiB chunks stand in for the 10 MiB `datasets` types a file from: the tool pair is past the first.
      const chunksize = 16 * 1024;
      const objects = lineObjects(latePairs(), 'trl');
      const inOrder = path.join(dir, 'in-order.jsonl');
      fs.writeFileSync(inOrder, objects.map((o) => JSON.stringify(o) + '\n').join(''));
      expect(fs.statSync(inOrder).size).toBeGreaterThan(2 * chunksize);
      const failed = checkTrainingFile((python as { python: string }).python, inOrder, { chunksize });
      expect(failed.status, 'the lines in their own order should not load').not.toBe(0);
      expect(failed.stderr).toMatch(/Couldn't cast|DatasetGenerationError/);

      for (const format of ['trl', 'trl-implicit'] as const) {
        const file = path.join(dir, `${format}.jsonl`);
        fs.writeFileSync(file, await text(writeJsonLines(jsonLinesOf(from(lineObjects(latePairs(), format))), { witnessesFirst: true })));
        const run = checkTrainingFile((python as { python: string }).python, file, { chunksize });
        expect(run.status, run.stderr).toBe(0);
        expect(run.stdout).toContain(`rows: ${objects.length}`);
        // Mixed message shapes in the first chunk: `datasets` gives each message back as written.
        expect(run.stdout).toContain("'chosen': List(Json(decode=True))");
        if (!run.stdout.includes('template: not found')) expect(run.stdout).toContain(`rendered: ${2 * objects.length}\n`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
