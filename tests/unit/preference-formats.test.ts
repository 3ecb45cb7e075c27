import { describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import type { TPreferencePair } from '@/server/exports/preference-pairs';
import { toOpenAiPreference } from '@/server/formats/openai-preference';
import { formatPreferencePair, toHhTranscript, type TFormattedPair } from '@/server/formats/preference-formats';
import { trainingMessage } from '@/server/formats/training-messages';

const toolAnswer: TMessage[] = [
  { role: 'assistant', content: '', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
  { role: 'tool', content: '18 C', tool_call_id: 'c1' },
  { role: 'assistant', content: 'It is 18 °C.' },
];

const pair: TPreferencePair = {
  prompt: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Paris?' },
  ],
  chosen: toolAnswer,
  rejected: [{ role: 'assistant', content: 'No idea.' }],
  metadata: {
    judgment_id: 1, comparison_id: 2, comparison_external_id: 'x', annotator_id: 3, strength: 'better', relation: 'chosen>rejected',
    flags: [], chosen_model: 'a', rejected_model: 'b', chosen_origin: 'model', rejected_origin: 'model', guidelines_version: null, review: null, source: null,
  },
};

/** The line of a format that holds the pair. */
function lineOf(formatted: TFormattedPair): Record<string, unknown> {
  if (!('line' in formatted)) throw new Error(`skipped: ${formatted.skip}`);
  return formatted.line as Record<string, unknown>;
}

describe('preference export formats', () => {
  it('TRL keeps the explicit prompt, and its metadata has one type per key: no nulls', () => {
    const line = lineOf(formatPreferencePair(pair, 'trl'));
    expect(line).toEqual({
      prompt: pair.prompt,
      chosen: pair.chosen,
      rejected: pair.rejected,
      metadata: { ...pair.metadata, guidelines_version: 0, review: '', source: '' },
    });
    const typed = lineOf(formatPreferencePair({ ...pair, metadata: { ...pair.metadata, strength: null, chosen_model: null, comparison_external_id: null, guidelines_version: 4 } }, 'trl'));
    expect(typed.metadata).toMatchObject({ strength: '', chosen_model: '', comparison_external_id: '', guidelines_version: 4, flags: [] });
  });

  it('TRL implicit prompt puts the prompt inside chosen and rejected', () => {
    const line = lineOf(formatPreferencePair(pair, 'trl-implicit'));
    expect(line).toEqual({ chosen: [...pair.prompt, ...pair.chosen], rejected: [...pair.prompt, ...pair.rejected] });
    expect(Object.keys(line)).toEqual(['chosen', 'rejected']);
  });

  it('training formats give messages only the keys they use: no null and no empty tool_calls', () => {
    const loose = [
      { role: 'assistant', content: 'Plain.', tool_calls: [], name: undefined, tool_call_id: undefined },
      { role: 'tool', content: '42', tool_call_id: 'c9', name: 'calc' },
      { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ] as TMessage[];
    expect(loose.map(trainingMessage)).toEqual([
      { role: 'assistant', content: 'Plain.' },
      { role: 'tool', content: '42', name: 'calc', tool_call_id: 'c9' },
      { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ]);
    const line = lineOf(formatPreferencePair({ ...pair, chosen: [loose[0]!] }, 'trl')) as { chosen: object[] };
    expect(Object.keys(line.chosen[0]!)).toEqual(['role', 'content']);
  });

  it('HH-RLHF writes two-speaker transcripts that share the conversation up to the last answer', () => {
    const line = lineOf(formatPreferencePair(pair, 'hh-rlhf'));
    expect(line.rejected).toBe('\n\nHuman: Be brief.\n\nWeather in Paris?\n\nAssistant: No idea.');
    expect(line.chosen).toBe('\n\nHuman: Be brief.\n\nWeather in Paris?\n\nAssistant: {"name":"weather","arguments":"{\\"city\\":\\"Paris\\"}"}\n\n18 C\n\nIt is 18 °C.');
    expect(toHhTranscript([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }])).toBe('\n\nHuman: a\n\nAssistant: b\n\nHuman: c');
  });
});

describe('OpenAI preference fine-tuning', () => {
  const plain = { ...pair, chosen: [{ role: 'assistant', content: 'Sunny, 18 °C.' }], rejected: [{ role: 'assistant', content: 'No idea.' }] } satisfies TPreferencePair;

  it('has input.messages and exactly one assistant message with text in each output', () => {
    expect(formatPreferencePair(plain, 'openai')).toEqual({
      line: {
        input: { messages: pair.prompt },
        preferred_output: [{ role: 'assistant', content: 'Sunny, 18 °C.' }],
        non_preferred_output: [{ role: 'assistant', content: 'No idea.' }],
      },
    });
  });

  it('skips a pair whose answer is several messages or a tool call, saying why', () => {
    expect(toOpenAiPreference(pair)).toEqual({ skip: 'answer' });
    expect(toOpenAiPreference({ ...plain, rejected: toolAnswer })).toEqual({ skip: 'answer' });
    expect(toOpenAiPreference({ ...plain, chosen: [toolAnswer[0]!] })).toEqual({ skip: 'answer' });
    expect(toOpenAiPreference({ ...plain, chosen: [{ role: 'ipython', content: '42' }] })).toEqual({ skip: 'answer' });
  });

  it('gives tool exchanges in the input OpenAI’s shape: ipython results become tool messages linked to their call by id', () => {
    const prompt: TMessage[] = [
      { role: 'user', content: 'What is 6 × 7, and the weather?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          { type: 'function', function: { name: 'python', arguments: '{"code":"print(6*7)"}' } },
          { id: 'w1', type: 'function', function: { name: 'weather', arguments: '{}' } },
        ],
      },
      { role: 'ipython', content: '42' },
      { role: 'tool', content: 'sunny', name: 'weather' },
      { role: 'assistant', content: 'Let me check once more.', tool_calls: [{ id: 'w2', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
      { role: 'tool', content: 'still sunny', tool_call_id: 'w2' },
      { role: 'user', content: 'Thanks, so?' },
    ];
    const result = toOpenAiPreference({ ...plain, prompt });
    expect(result).toEqual({
      line: {
        input: {
          messages: [
            { role: 'user', content: 'What is 6 × 7, and the weather?' },
            {
              role: 'assistant',
              tool_calls: [
                { id: 'call_1_0', type: 'function', function: { name: 'python', arguments: '{"code":"print(6*7)"}' } },
                { id: 'w1', type: 'function', function: { name: 'weather', arguments: '{}' } },
              ],
            },
            { role: 'tool', content: '42', tool_call_id: 'call_1_0' },
            { role: 'tool', content: 'sunny', tool_call_id: 'w1' },
            { role: 'assistant', content: 'Let me check once more.', tool_calls: [{ id: 'w2', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
            { role: 'tool', content: 'still sunny', tool_call_id: 'w2' },
            { role: 'user', content: 'Thanks, so?' },
          ],
        },
        preferred_output: plain.chosen,
        non_preferred_output: plain.rejected,
      },
    });
    const roles = (result as { line: { input: { messages: { role: string }[] } } }).line.input.messages.map((m) => m.role);
    expect(roles.every((r) => ['system', 'user', 'assistant', 'tool'].includes(r))).toBe(true);
  });

  it('skips a pair whose prompt has a tool result that answers no call (Llama’s code interpreter output)', () => {
    const prompt: TMessage[] = [
      { role: 'user', content: 'Run it.' },
      { role: 'assistant', content: '<|python_tag|>print(1)' },
      { role: 'ipython', content: '1' },
    ];
    expect(toOpenAiPreference({ ...plain, prompt })).toEqual({ skip: 'toolResult' });
  });
});
