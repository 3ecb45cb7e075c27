import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from '@/server/content/hash';
import { ZPromptInput, ZResponseContent } from '@/server/content/schemas';
import { AppError } from '@/server/errors';
import { parseNativeLine } from '@/server/imports/import-comparisons';

/** The message of the first issue, for schemas that should reject. */
function firstIssue(result: { success: boolean; error?: { issues: { message: string; path: PropertyKey[] }[] } }) {
  expect(result.success).toBe(false);
  const issue = result.error?.issues[0];
  expect(issue).toBeDefined();
  return issue!;
}

function parseError(text: string, line = 1, maxMessageBytes = 1_000_000): AppError {
  try {
    parseNativeLine(text, line, maxMessageBytes);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error(`expected line to be rejected: ${text}`);
}

const line = (value: unknown) => JSON.stringify(value);
const twoResponses = [{ content: 'yes', model: 'm1' }, { content: 'no', model: 'm2' }];

describe('canonicalJson and contentHash', () => {
  it('sorts object keys at every depth', () => {
    const a = { b: 1, a: { d: [{ z: 1, y: 2 }], c: 'x' } };
    const b = { a: { c: 'x', d: [{ y: 2, z: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(contentHash(b)).toBe(contentHash(a));
  });

  it('is a sha256 hex digest', () => {
    expect(contentHash({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with any change of content, including array order and value types', () => {
    const base = contentHash([{ role: 'user', content: 'hello' }]);
    expect(contentHash([{ role: 'user', content: 'hello!' }])).not.toBe(base);
    expect(contentHash([{ role: 'system', content: 'hello' }])).not.toBe(base);
    expect(contentHash([{ role: 'user', content: 'hello' }, { role: 'user', content: 'hello' }])).not.toBe(base);
    expect(contentHash([1, 2])).not.toBe(contentHash([2, 1]));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: '1' }));
    expect(contentHash({ a: null })).not.toBe(contentHash({}));
  });
});

describe('ZPromptInput and ZResponseContent', () => {
  it('turn a string into one message of their role', () => {
    expect(ZPromptInput.parse('What is 2+2?')).toEqual([{ role: 'user', content: 'What is 2+2?' }]);
    expect(ZResponseContent.parse('4')).toEqual([{ role: 'assistant', content: '4' }]);
  });

  it('keep a list of messages as given', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Bye' },
    ];
    expect(ZPromptInput.parse(messages)).toEqual(messages);
  });

  it.each(['', '   ', '\n\t'])('reject the blank string %j as a prompt, keep it as a response', (value) => {
    expect(firstIssue(ZPromptInput.safeParse(value)).message).toBe('must not be empty');
    expect(ZResponseContent.parse(value)).toEqual([{ role: 'assistant', content: value }]);
  });

  it.each([42, null, undefined, { role: 'user', content: 'hi' }, true])('reject %j with a message naming both accepted forms', (value) => {
    for (const schema of [ZPromptInput, ZResponseContent]) {
      const issue = firstIssue(schema.safeParse(value));
      expect(issue.message).toBe('must be a string or a list of messages');
      expect(issue.path).toEqual([]);
    }
  });

  it('reject an empty list of messages', () => {
    expect(firstIssue(ZPromptInput.safeParse([])).message).toBe('must hold at least one message');
  });

  it('keep messages with empty content; refuse a prompt of nothing else', () => {
    const turns = [
      { role: 'user', content: 'ok' },
      { role: 'assistant', content: '  ' },
    ] as const;
    expect(ZResponseContent.parse(turns)).toEqual(turns);
    expect(ZPromptInput.parse(turns)).toEqual(turns);
    expect(firstIssue(ZPromptInput.safeParse([{ role: 'user', content: ' ' }])).message).toBe('must not be empty: every message is blank');
  });

  it('reject an unknown role at its path', () => {
    const issue = firstIssue(ZPromptInput.safeParse([{ role: 'robot', content: 'beep' }]));
    expect(issue.path).toEqual([0, 'role']);
    expect(issue.message).toContain('"ipython"');
  });

  it('accept a tool-call message with empty or null content', () => {
    const toolCalls = [{ id: 'call_1', function: { name: 'search', arguments: '{"q":"x"}' } }];
    for (const content of ['', null]) {
      expect(ZResponseContent.parse([{ role: 'assistant', content, tool_calls: toolCalls }])).toEqual([
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"q":"x"}' } }] },
      ]);
    }
  });

  it('keep tool results with their call id', () => {
    const message = { role: 'tool', content: '42', tool_call_id: 'call_1', name: 'search' };
    expect(ZPromptInput.parse([{ role: 'user', content: 'q' }, message])).toEqual([{ role: 'user', content: 'q' }, message]);
  });
});

describe('parseNativeLine', () => {
  it('normalises a valid line and hashes its content', () => {
    const parsed = parseNativeLine(line({ id: 7, prompt: 'Why?', responses: twoResponses, metadata: { source: 'unit' } }), 3, 1_000_000);
    expect(parsed.line).toBe(3);
    expect(parsed.data).toEqual({
      id: '7',
      prompt: [{ role: 'user', content: 'Why?' }],
      responses: [
        { content: [{ role: 'assistant', content: 'yes' }], model: 'm1' },
        { content: [{ role: 'assistant', content: 'no' }], model: 'm2' },
      ],
      metadata: { source: 'unit' },
    });
    expect(parsed.promptHash).toBe(contentHash([{ role: 'user', content: 'Why?' }]));
  });

  it.each([3, 8])('accepts %i responses (ranked), keeping their order', (n) => {
    const responses = Array.from({ length: n }, (_, i) => ({ content: `answer ${i}`, model: `m${i}` }));
    const parsed = parseNativeLine(line({ prompt: 'Rank us', responses }), 1, 1_000_000);
    expect(parsed.data.responses).toEqual(responses.map((r) => ({ content: [{ role: 'assistant', content: r.content }], model: r.model })));
  });

  it('hashes content only: key order, id and metadata do not change the hashes', () => {
    const a = parseNativeLine(line({ id: 'a', prompt: 'Why?', responses: twoResponses }), 1, 1_000_000);
    const b = parseNativeLine('{"responses":[{"model":"m1","content":"yes"},{"model":"m2","content":"no"}],"metadata":{"x":1},"prompt":"Why?","id":"b"}', 2, 1_000_000);
    expect(b.comparisonHash).toBe(a.comparisonHash);
    expect(b.promptHash).toBe(a.promptHash);
  });

  it('gives different hashes for a different model, response order or prompt', () => {
    const base = parseNativeLine(line({ prompt: 'Why?', responses: twoResponses }), 1, 1_000_000);
    const otherModel = parseNativeLine(line({ prompt: 'Why?', responses: [{ content: 'yes', model: 'm3' }, twoResponses[1]] }), 1, 1_000_000);
    const swapped = parseNativeLine(line({ prompt: 'Why?', responses: [twoResponses[1], twoResponses[0]] }), 1, 1_000_000);
    const otherPrompt = parseNativeLine(line({ prompt: 'How?', responses: twoResponses }), 1, 1_000_000);
    expect(new Set([base, otherModel, swapped, otherPrompt].map((p) => p.comparisonHash)).size).toBe(4);
    expect(swapped.promptHash).toBe(base.promptHash);
    expect(otherPrompt.promptHash).not.toBe(base.promptHash);
  });

  it('prefixes every error with the line number and marks the line as the field', () => {
    const error = parseError('{"prompt": ', 12);
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.field).toBe('line 12');
    expect(error.message).toMatch(/^line 12: malformed JSON \(.+\)$/);
  });

  it.each([
    ['an empty prompt', { prompt: '', responses: twoResponses }, 'line 5: prompt: must not be empty'],
    ['a non-string content', { prompt: 'p', responses: [{ content: 'a' }, { content: 5 }] }, 'line 5: responses[1].content: must be a string or a list of messages'],
    ['a prompt of blank messages', { prompt: [{ role: 'user', content: ' ' }], responses: twoResponses }, 'line 5: prompt: must not be empty: every message is blank'],
    ['a missing prompt', { responses: twoResponses }, 'line 5: prompt: must be a string or a list of messages'],
    ['one response', { prompt: 'p', responses: [{ content: 'a' }] }, 'line 5: responses: a comparison needs at least two responses'],
    ['nine responses', { prompt: 'p', responses: Array.from({ length: 9 }, (_, i) => ({ content: `r${i}` })) }, 'line 5: responses: a comparison holds at most 8 responses'],
    ['an empty id', { id: '', prompt: 'p', responses: twoResponses }, 'line 5: id: must not be empty'],
  ])('names the path and reason for %s', (_name, value, message) => {
    expect(parseError(line(value), 5).message).toBe(message);
  });

  it('names the path of an unknown role', () => {
    expect(parseError(line({ prompt: [{ role: 'robot', content: 'x' }], responses: twoResponses }), 2).message).toMatch(/^line 2: prompt\[0\]\.role: .*"system"/);
  });

  it('limits message size in bytes, not characters', () => {
    const accented = 'é'.repeat(60); // 60 characters, 120 bytes
    expect(() => parseNativeLine(line({ prompt: 'p', responses: [{ content: 'a'.repeat(100) }, { content: 'b' }] }), 1, 100)).not.toThrow();
    expect(parseError(line({ prompt: accented, responses: twoResponses }), 4, 100).message).toBe('line 4: a user message is over the 100-byte limit');
    expect(parseError(line({ prompt: 'p', responses: [{ content: 'ok' }, { content: 'x'.repeat(101) }] }), 4, 100).message).toMatch(/^line 4: an? assistant message is over the 100-byte limit$/);
  });
});
