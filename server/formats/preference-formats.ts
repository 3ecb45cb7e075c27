import type { TMessage } from '@/db/schema/content';
import type { TPreferencePair } from '../exports/preference-pairs';
import { toOpenAiPreference, type TOpenAiSkip } from './openai-preference';
import { trainingMessages } from './training-messages';
import { typedMetadata } from './typed-metadata';

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

/**
 * JSON-lines formats that trainers load with `datasets`: one schema from the first line (see
 * json-lines.ts), messages without keys they do not use (training-messages.ts), metadata without
 * nulls (typed-metadata.ts). `openai` and `hh-rlhf` go to other readers and keep their order.
 */
export const trainingFormats: readonly string[] = ['trl', 'trl-implicit', 'sft', 'sft-completion'];
export function isTrainingFormat(format: string): boolean {
  return trainingFormats.includes(format);
}

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

/** A pair in a format, or why the format cannot hold it (only `openai` skips pairs). */
export type TFormattedPair = { line: object } | { skip: TOpenAiSkip };

export function formatPreferencePair(pair: TPreferencePair, format: TPreferenceFormat): TFormattedPair {
  switch (format) {
    case 'trl':
      // Named fields: a selected pair carries internal fields (its prompt hash) that no file should.
      return {
        line: { prompt: trainingMessages(pair.prompt), chosen: trainingMessages(pair.chosen), rejected: trainingMessages(pair.rejected), metadata: typedMetadata(pair.metadata) },
      };
    case 'trl-implicit':
      return { line: { chosen: trainingMessages([...pair.prompt, ...pair.chosen]), rejected: trainingMessages([...pair.prompt, ...pair.rejected]) } };
    case 'openai':
      return toOpenAiPreference(pair);
    case 'hh-rlhf':
      return { line: { chosen: toHhTranscript([...pair.prompt, ...pair.chosen]), rejected: toHhTranscript([...pair.prompt, ...pair.rejected]) } };
  }
}
