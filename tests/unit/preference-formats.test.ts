import { describe, expect, it } from 'vitest';
import type { TPreferencePair } from '@/server/exports/preference-pairs';
import { formatPreferencePair, toHhTranscript } from '@/server/formats/preference-formats';

const pair: TPreferencePair = {
  prompt: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Paris?' },
  ],
  chosen: [
    { role: 'assistant', content: '', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', content: '18 C', tool_call_id: 'c1' },
    { role: 'assistant', content: 'It is 18 °C.' },
  ],
  rejected: [{ role: 'assistant', content: 'No idea.' }],
  metadata: {
    judgment_id: 1, comparison_id: 2, comparison_external_id: 'x', annotator_id: 3, strength: 'better', relation: 'chosen>rejected',
    flags: [], chosen_model: 'a', rejected_model: 'b', chosen_origin: 'model', rejected_origin: 'model', guidelines_version: null, review: null, source: null,
  },
};

describe('preference export formats', () => {
  it('TRL keeps the explicit prompt and the metadata column', () => {
    expect(formatPreferencePair(pair, 'trl')).toEqual(pair);
  });

  it('TRL implicit prompt puts the prompt inside chosen and rejected', () => {
    const line = formatPreferencePair(pair, 'trl-implicit') as { chosen: unknown[]; rejected: unknown[] };
    expect(line).toEqual({ chosen: [...pair.prompt, ...pair.chosen], rejected: [...pair.prompt, ...pair.rejected] });
    expect(Object.keys(line)).toEqual(['chosen', 'rejected']);
  });

  it('OpenAI preference fine-tuning has input.messages, preferred_output and non_preferred_output', () => {
    expect(formatPreferencePair(pair, 'openai')).toEqual({ input: { messages: pair.prompt }, preferred_output: pair.chosen, non_preferred_output: pair.rejected });
  });

  it('HH-RLHF writes two-speaker transcripts that share the conversation up to the last answer', () => {
    const line = formatPreferencePair(pair, 'hh-rlhf') as { chosen: string; rejected: string };
    expect(line.rejected).toBe('\n\nHuman: Be brief.\n\nWeather in Paris?\n\nAssistant: No idea.');
    expect(line.chosen).toBe('\n\nHuman: Be brief.\n\nWeather in Paris?\n\nAssistant: {"name":"weather","arguments":"{\\"city\\":\\"Paris\\"}"}\n\n18 C\n\nIt is 18 °C.');
    expect(toHhTranscript([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }])).toBe('\n\nHuman: a\n\nAssistant: b\n\nHuman: c');
  });
});
