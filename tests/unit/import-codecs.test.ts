import { describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { canonicalJson, contentHash } from '@/server/content/hash';
import { ZPromptInput, ZResponseContent } from '@/server/content/schemas';
import { answersAnswer, answersComparison, answersLineKind, answersPrompt } from '@/server/imports/formats/answers';
import { hhRecord, parseHhTranscript } from '@/server/imports/formats/hh-rlhf';
import { nativeRecord } from '@/server/imports/formats/native';
import { openaiChatRecord } from '@/server/imports/formats/openai-chat';
import { trlRecord } from '@/server/imports/formats/trl';
import { canonicalMessagesJson, LineError, plainMessages, sha256, type TComparisonRecord } from '@/server/imports/records';
import { ZNativeComparisonLine } from '@/server/imports/schemas';
import { Batch, prepareRecord } from '@/server/imports/write-batch';

/** The reason a codec gives for a bad line. */
function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LineError);
    return (error as LineError).reason;
  }
  throw new Error('expected a LineError');
}

const user = (content: string): TMessage => ({ role: 'user', content });
const assistant = (content: string): TMessage => ({ role: 'assistant', content });

describe('canonical JSON of messages', () => {
  const samples: TMessage[][] = [
    [user('Hi')],
    [{ role: 'system', content: 'Be "terse" \\ please\n' }, user('é 🙂 \u2028 \t')],
    [{ role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"q":"x"}' } }] }],
    [{ role: 'tool', content: '{"result": 1}', tool_call_id: 'call_1', name: 'search' }],
    [{ role: 'assistant', content: 'x', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'ipython', content: '42' }],
  ];
  it.each(samples.map((s, i) => [i, s] as const))('is canonicalJson, byte for byte (sample %i)', (_i, messages) => {
    expect(canonicalMessagesJson(messages)).toBe(canonicalJson(messages));
    expect(sha256(canonicalMessagesJson(messages))).toBe(contentHash(messages));
  });
});

describe('plain messages (the path without the schema)', () => {
  it.each([
    ['a string', 'Why?', 'user'],
    ['a message list', [{ role: 'system', content: 'S' }, { content: 'U', role: 'user' }], 'user'],
    ['an assistant string', 'Because.', 'assistant'],
  ] as const)('gives what the schema gives for %s', (_name, value, role) => {
    const schema = role === 'user' ? ZPromptInput : ZResponseContent;
    expect(plainMessages(value, role)).toEqual(schema.parse(value));
  });

  it.each([
    ['a blank string', '  \n'],
    ['an empty list', []],
    ['an unknown role', [{ role: 'narrator', content: 'x' }]],
    ['a null content', [{ role: 'assistant', content: null }]],
    ['a message with tool calls', [{ role: 'assistant', content: '', tool_calls: [] }]],
    ['a message with an extra key', [{ role: 'assistant', content: 'x', weight: 0 }]],
    ['a number', 5],
  ])('leaves %s to the schema', (_name, value) => {
    expect(plainMessages(value, 'user')).toBeNull();
  });

  // Real data holds empty turns: kept as they are, as the schema keeps them.
  it('keeps empty and blank content, as the schema does', () => {
    const turns = [user('Q'), assistant(''), user(' \n')];
    expect(plainMessages(turns, 'user')).toEqual(turns);
    expect(plainMessages(turns, 'user')).toEqual(ZPromptInput.parse(turns));
    expect(plainMessages('', 'assistant')).toEqual(ZResponseContent.parse(''));
    expect(plainMessages(' ', 'assistant')).toEqual([assistant(' ')]);
  });
});

describe('native records', () => {
  const lines: unknown[] = [
    { prompt: 'p', responses: [{ content: 'a' }, { content: 'b', model: 'm' }] },
    { id: 7, prompt: [{ role: 'system', content: 's' }, { role: 'user', content: 'u' }], responses: [{ content: 'a', model: 'x' }, { content: [{ role: 'assistant', content: 'b' }] }], metadata: { k: [1] } },
    { id: 'c-1', prompt: 'p', responses: [{ content: 'a' }, { content: 'b' }], extra: 'stripped by the schema' },
    { prompt: 'p', responses: [{ content: 'a' }, { content: 'b' }], gold: { choice: 1, min_strength: 'better' } },
    { prompt: 'p', responses: [{ content: 'a', model: null }, { content: 'b' }] },
  ];
  it.each(lines.map((l, i) => [i, l] as const))('equal the schema’s result (line %i)', (_i, line) => {
    const schema = ZNativeComparisonLine.safeParse(line);
    if (!schema.success) {
      expect(() => nativeRecord(line)).toThrow(LineError);
      return;
    }
    const { id, prompt, responses, metadata, gold } = schema.data;
    expect(nativeRecord(line)).toEqual({ kind: 'comparison', id, prompt, responses, metadata, gold });
  });
});

describe('trl', () => {
  it('reads the standard form, with extra fields as metadata and id as external id', () => {
    expect(trlRecord({ prompt: 'Sky?', chosen: 'Blue.', rejected: 'Green.', score_chosen: 9, id: 'x-1', metadata: { topic: 'nature' } })).toEqual({
      kind: 'comparison',
      id: 'x-1',
      prompt: [user('Sky?')],
      responses: [{ content: [assistant('Blue.')] }, { content: [assistant('Green.')] }],
      metadata: { topic: 'nature', score_chosen: 9 },
      preferred: 0,
    });
  });

  it('reads the conversational form', () => {
    const prompt = [{ role: 'system', content: 'Brief.' }, user('2+2?')];
    const record = trlRecord({ prompt, chosen: [assistant('4')], rejected: [assistant('5')] });
    expect(record.prompt).toEqual(prompt);
    expect(record.responses.map((r) => r.content)).toEqual([[assistant('4')], [assistant('5')]]);
    expect(record.metadata).toBeUndefined();
  });

  it('finds an implicit prompt: the conversation before the last assistant turn', () => {
    const shared = [user('Hi'), assistant('Hello!'), user('A joke?')];
    const call: TMessage = { role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'joke', arguments: '{}' } }] };
    const record = trlRecord({ chosen: [...shared, call, { role: 'tool', content: 'pun', tool_call_id: 'c' }, assistant('A pun.')], rejected: [...shared, assistant('No.')] });
    expect(record.prompt).toEqual(shared);
    expect(record.responses[0]!.content).toHaveLength(3);
    expect(record.responses[1]!.content).toEqual([assistant('No.')]);
  });

  it('keeps an empty response, chosen or rejected', () => {
    expect(trlRecord({ prompt: 'p', chosen: '', rejected: 'b' }).responses).toEqual([{ content: [assistant('')] }, { content: [assistant('b')] }]);
    const record = trlRecord({ chosen: [user('Q'), assistant('a')], rejected: [user('Q'), { role: 'assistant', content: '' }] });
    expect(record.responses[1]!.content).toEqual([assistant('')]);
  });

  it.each([
    ['plain strings without a prompt', { chosen: 'a', rejected: 'b' }, /^implicit prompt: chosen and rejected are plain strings/],
    ['conversations that part before the last turn', { chosen: [user('A'), assistant('x')], rejected: [user('B'), assistant('y')] }, /do not share the conversation/],
    ['a conversation that ends with the user', { chosen: [user('A'), assistant('x'), user('?')], rejected: [user('A'), assistant('y')] }, /^chosen: the conversation does not end with an assistant turn$/],
    ['an unknown role', { prompt: [{ role: 'narrator', content: 'x' }], chosen: 'a', rejected: 'b' }, /^prompt\[0\]\.role: Invalid option/],
    ['a prompt of blank turns', { prompt: [user(' '), assistant(''), user('')], chosen: 'a', rejected: 'b' }, /^prompt: must not be empty: every message is blank$/],
    ['an implicit prompt of blank turns', { chosen: [user(''), assistant('a')], rejected: [user(''), assistant('b')] }, /^chosen: must not be empty: every message is blank$/],
    ['a missing rejected', { prompt: 'p', chosen: 'a' }, /^rejected: missing$/],
    ['an empty id', { id: '', prompt: 'p', chosen: 'a', rejected: 'b' }, /^id: must not be empty$/],
  ])('rejects %s', (_name, line, message) => {
    expect(reason(() => trlRecord(line))).toMatch(message);
  });
});

describe('hh-rlhf', () => {
  it('splits a transcript into turns, the one space after each marker not being content', () => {
    expect(parseHhTranscript('\n\nHuman: Hi\n\nAssistant:  two spaces\n\nHuman:no space\n\nAssistant: end\n', 'chosen')).toEqual([
      user('Hi'),
      assistant(' two spaces'),
      user('no space'),
      assistant('end\n'),
    ]);
  });

  // As in Anthropic's data: empty Assistant turns, in the conversation and as the chosen answer.
  it('keeps empty turns exactly, whitespace and all', () => {
    const record = hhRecord({
      chosen: '\n\nHuman: Hi\n\nAssistant:\n\nHuman: Still there?\n\nAssistant: ',
      rejected: '\n\nHuman: Hi\n\nAssistant:\n\nHuman: Still there?\n\nAssistant:  \n',
    });
    expect(record.prompt).toEqual([user('Hi'), assistant(''), user('Still there?')]);
    expect(record.responses).toEqual([{ content: [assistant('')] }, { content: [assistant(' \n')] }]);
  });

  it('takes the shared conversation before the last Assistant turn as the prompt', () => {
    const record = hhRecord({ chosen: '\n\nHuman: Q1\n\nAssistant: A1\n\nHuman: Q2\n\nAssistant: good', rejected: '\n\nHuman: Q1\n\nAssistant: A1\n\nHuman: Q2\n\nAssistant: bad' });
    expect(record.prompt).toEqual([user('Q1'), assistant('A1'), user('Q2')]);
    expect(record.responses).toEqual([{ content: [assistant('good')] }, { content: [assistant('bad')] }]);
    expect(record.preferred).toBe(0);
  });

  it.each([
    ['text before the first marker', { chosen: 'Hi\n\nAssistant: x', rejected: '\n\nHuman: Hi\n\nAssistant: y' }, /^chosen: a transcript starts with/],
    ['a transcript ending with a Human turn', { chosen: '\n\nHuman: Hi\n\nAssistant: x\n\nHuman: more', rejected: '\n\nHuman: Hi\n\nAssistant: y' }, /^chosen: the transcript does not end with an Assistant turn$/],
    ['transcripts that part before the last turn', { chosen: '\n\nHuman: Hi\n\nAssistant: x', rejected: '\n\nHuman: Hello\n\nAssistant: y' }, /do not share the conversation before their last Assistant turn/],
    ['a prompt of blank Human turns', { chosen: '\n\nHuman: \n\nAssistant: x', rejected: '\n\nHuman: \n\nAssistant: y' }, /^chosen: must not be empty: every message is blank$/],
    ['no Human turn', { chosen: '\n\nAssistant: x', rejected: '\n\nAssistant: y' }, /^chosen: no Human turn/],
    ['a transcript that is not a string', { chosen: [], rejected: 'x' }, /^chosen: must be a string/],
  ])('rejects %s', (_name, line, message) => {
    expect(reason(() => hhRecord(line))).toMatch(message);
  });
});

describe('openai-chat', () => {
  it('drops a trailing assistant message and keeps other keys as prompt metadata', () => {
    expect(openaiChatRecord({ messages: [{ role: 'system', content: 'S' }, user('U'), { role: 'assistant', content: 'A', weight: 1 }], tools: [] })).toEqual({
      kind: 'prompt',
      prompt: [{ role: 'system', content: 'S' }, user('U')],
      metadata: { tools: [] },
    });
  });

  it.each([
    ['an unknown role', { messages: [{ role: 'developer', content: 'x' }, user('U')] }, /^messages\[0\]\.role: Invalid option/],
    ['no user message', { messages: [{ role: 'system', content: 'S' }, assistant('A')] }, /^messages: no user message to answer$/],
    ['no messages', { prompt: 'x' }, /^messages: missing$/],
  ])('rejects %s', (_name, line, message) => {
    expect(reason(() => openaiChatRecord(line))).toMatch(message);
  });
});

describe('answers', () => {
  it('tells prompt lines from answer lines', () => {
    expect(answersLineKind({ uid: 'u', prompt: 'p' })).toBe('prompt');
    expect(answersLineKind({ uid: 'u', model: 'm', messages: [] })).toBe('answer');
    expect(reason(() => answersLineKind({ uid: 'u' }))).toMatch(/^neither a prompt line/);
  });

  it('keeps an empty answer, and refuses a blank prompt', () => {
    expect(answersAnswer({ uid: 'u', model: 'm', messages: [user('Q'), { role: 'assistant', content: { answer: '' } }] }).response).toEqual([assistant('')]);
    expect(reason(() => answersPrompt({ uid: 'u', prompt: ' ' }))).toBe('prompt: must not be empty');
    expect(reason(() => answersPrompt({ uid: 'u', prompt: [user('')] }))).toBe('prompt: must not be empty: every message is blank');
  });

  it('reads both answer shapes and joins a comparison in the order of the models', () => {
    const prompt = answersPrompt({ uid: 'u1', prompt: 'Q', cluster: 'c' });
    expect(prompt).toEqual({ uid: 'u1', prompt: [user('Q')], metadata: { cluster: 'c' } });
    const a = answersAnswer({ uid: 'u1', model: 'a', messages: [user('Q'), { role: 'assistant', content: { answer: 'A' } }], tstamp: 1 });
    const b = answersAnswer({ uid: 'u1', model: 'b', messages: [user('Q'), assistant('B')] });
    expect(answersComparison(prompt, [a, b])).toEqual({
      kind: 'comparison',
      prompt: [user('Q')],
      promptMetadata: { cluster: 'c' },
      responses: [{ content: [assistant('A')], model: 'a' }, { content: [assistant('B')], model: 'b' }],
      metadata: { uid: 'u1' },
    });
  });

  it.each([
    ['an object content without an answer', { uid: 'u', model: 'm', messages: [user('Q'), { role: 'assistant', content: { text: 'x' } }] }, /^messages\[1\]\.content: an object content needs a string "answer"$/],
    ['an unknown role', { uid: 'u', model: 'm', messages: [{ role: 'judge', content: 'Q' }, assistant('A')] }, /^messages\[0\]\.role: Invalid option/],
    ['no answer', { uid: 'u', model: 'm', messages: [user('Q')] }, /^messages: no assistant answer/],
    ['no model', { uid: 'u', messages: [user('Q'), assistant('A')] }, /^model: missing$/],
  ])('rejects %s', (_name, line, message) => {
    expect(reason(() => answersAnswer(line))).toMatch(message);
  });
});

describe('preparing labelled pairs', () => {
  const ref = { file: 'f.jsonl', line: 1, id: null };
  const options = { maxMessageBytes: 1_000_000, source: 'trl:f.jsonl' };
  const pair = (chosen: string, rejected: string): TComparisonRecord => ({
    kind: 'comparison',
    prompt: [user('Q')],
    responses: [{ content: [assistant(chosen)] }, { content: [assistant(rejected)] }],
    preferred: 0,
  });
  /** The stored order and chosen position of a prepared pair, from the statement's JSON. */
  const stored = (record: TComparisonRecord) => {
    const prepared = prepareRecord(record, ref, options);
    if (prepared.kind !== 'comparison') throw new Error('expected a comparison');
    const json = JSON.parse(`{${prepared.comparison.json}`) as { r: { m: TMessage[] }[]; j: number; s: string; h: string };
    return { order: json.r.map((r) => r.m[0]!.content), chosen: json.j, source: json.s, hash: json.h };
  };

  it('stores the pair in an order derived from content, and records where the chosen response went', () => {
    const positions = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const s = stored(pair(`good ${i}`, `bad ${i}`));
      expect(s.order[s.chosen]).toBe(`good ${i}`);
      expect(s.source).toBe('trl:f.jsonl');
      positions.add(s.chosen);
    }
    // Not chosen-first: both positions occur.
    expect([...positions].sort()).toEqual([0, 1]);
  });

  it('gives the same comparison whichever way round the pair was labelled', () => {
    const ab = stored(pair('A', 'B'));
    const ba = stored(pair('B', 'A'));
    expect(ab.order).toEqual(ba.order);
    expect(ab.hash).toBe(ba.hash);
    expect(ab.chosen).toBe(1 - ba.chosen);
  });

  it('refuses a pair of two equal responses', () => {
    expect(reason(() => prepareRecord(pair('same', 'same'), ref, options))).toBe('chosen and rejected are the same response');
  });

  it.each([
    ['a NUL character', 'a\u0000b', /NUL character/],
    ['a lone surrogate', 'a\ud800b', /unpaired UTF-16 surrogate/],
  ])('refuses %s, which PostgreSQL cannot store', (_name, text, message) => {
    expect(reason(() => prepareRecord(pair(text, 'ok'), ref, options))).toMatch(message);
    // An escaped backslash before "u0000" is text, not a NUL.
    expect(() => prepareRecord(pair('a\\u0000b', 'ok'), ref, options)).not.toThrow();
  });

  it('hashes comparisons as the native importer always has', () => {
    const record = nativeRecord({ prompt: 'Why?', responses: [{ content: 'yes', model: 'm1' }, { content: 'no' }] });
    const prepared = prepareRecord(record, ref, { maxMessageBytes: 1e6, source: null });
    if (prepared.kind !== 'comparison') throw new Error('expected a comparison');
    expect(prepared.comparison.hash).toBe(contentHash({ prompt: record.prompt, responses: record.responses.map((r) => ({ content: r.content, model: r.model ?? null })) }));
    expect(prepared.comparison.prompt.hash).toBe(contentHash(record.prompt));
  });

  it('settles repeats inside a batch: the same content is a repeat, the same id with other content an error', () => {
    const batch = new Batch();
    const withId = (id: string, text: string) => prepareRecord({ ...pair(text, 'x'), id }, { ...ref, id }, options);
    batch.add(withId('a', 'one'));
    batch.add(withId('a', 'one'));
    expect(batch.repeats).toBe(1);
    expect(reason(() => batch.add(withId('a', 'two')))).toBe('id "a" already exists in this project with different content');
  });
});
