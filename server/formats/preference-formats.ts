import type { TMessage } from '@/db/schema/content';
import type { TPreferencePair } from '../exports/preference-pairs';

/**
 * Preference-pair export formats: what each trainer reads, one pair a line.
 * - trl: conversational with an explicit prompt (DPOTrainer), plus a metadata column;
 * - trl-implicit: the prompt inside chosen and rejected (RewardTrainer prefers it);
 * - openai: OpenAI preference fine-tuning (`input.messages`, `preferred_output`, `non_preferred_output`);
 * - hh-rlhf: Anthropic HH-RLHF transcripts ("\n\nHuman: …\n\nAssistant: …").
 */
export const preferenceFormats = ['trl', 'trl-implicit', 'openai', 'hh-rlhf'] as const;
export type TPreferenceFormat = (typeof preferenceFormats)[number];

/**
 * Every export format: the preference formats, `sft` (`{"messages": [...]}` with each judgment's
 * best response), and `parquet` (the TRL pairs as a Parquet file, metadata in scalar columns).
 */
export const exportFormats = [...preferenceFormats, 'sft', 'parquet'] as const;
export type TExportFormat = (typeof exportFormats)[number];

const speaker: Record<TMessage['role'], 'Human' | 'Assistant'> = {
  system: 'Human',
  user: 'Human',
  assistant: 'Assistant',
  tool: 'Assistant',
  ipython: 'Assistant',
};

/**
 * HH-RLHF has two speakers and plain text: a system prompt opens the first Human turn; tool
 * calls (as JSON) and tool or ipython results belong to the Assistant turn they are part of.
 * Consecutive messages of one speaker join with a blank line into one turn.
 */
export function toHhTranscript(messages: TMessage[]): string {
  let out = '';
  let current: 'Human' | 'Assistant' | null = null;
  for (const m of messages) {
    const who = speaker[m.role];
    const calls = (m.tool_calls ?? []).map((c) => JSON.stringify({ name: c.function.name, arguments: c.function.arguments }));
    const text = [m.content, ...calls].filter((t) => t.length > 0).join('\n\n');
    out += who === current ? `\n\n${text}` : `\n\n${who}: ${text}`;
    current = who;
  }
  return out;
}

export function formatPreferencePair(pair: TPreferencePair, format: TPreferenceFormat): object {
  switch (format) {
    case 'trl':
      // Named fields: a selected pair carries internal fields (its prompt hash) that no file should.
      return { prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected, metadata: pair.metadata };
    case 'trl-implicit':
      return { chosen: [...pair.prompt, ...pair.chosen], rejected: [...pair.prompt, ...pair.rejected] };
    case 'openai':
      return { input: { messages: pair.prompt }, preferred_output: pair.chosen, non_preferred_output: pair.rejected };
    case 'hh-rlhf':
      return { chosen: toHhTranscript([...pair.prompt, ...pair.chosen]), rejected: toHhTranscript([...pair.prompt, ...pair.rejected]) };
  }
}
