import type { TMessage } from '@/db/schema';
import type { TPreferencePair } from '../exports/preference-pairs';
import { isPlainMessage } from './training-messages';

/** A message of OpenAI's chat format: what `input.messages` may hold. */
export type TOpenAiMessage =
  | { role: 'system' | 'user'; content: string; name?: string }
  | { role: 'assistant'; content?: string; name?: string; tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[] }
  | { role: 'tool'; content: string; tool_call_id: string };

/** One line of OpenAI preference fine-tuning (DPO). */
export interface TOpenAiPreferenceLine {
  input: { messages: TOpenAiMessage[] };
  preferred_output: [{ role: 'assistant'; content: string }];
  non_preferred_output: [{ role: 'assistant'; content: string }];
}

/** Why a pair cannot be an OpenAI preference line. */
export const openAiSkipReasons = {
  answer: 'an answer that is not one plain assistant message (a tool call, tool results, several messages)',
  toolResult: 'a tool result in the prompt that answers no tool call',
} as const;
export type TOpenAiSkip = keyof typeof openAiSkipReasons;

/**
 * A pair as OpenAI preference fine-tuning takes it, or why it cannot be one. OpenAI allows
 * system, user, assistant and tool messages in `input.messages` and exactly one assistant
 * message with text in each output. So:
 * - an answer of several messages (a tool call, its result, the final answer) or an answer that
 *   calls a tool is skipped: its leading messages differ between chosen and rejected, so they
 *   cannot move into the shared input, and dropping them would teach answers without the tool
 *   results they rest on;
 * - Llama's `ipython` results become `tool` messages; a tool result without a `tool_call_id`
 *   answers the next unanswered call of the assistant message before it, and a call without an
 *   `id` gets one (`call_<message>_<call>`), since OpenAI links every result to its call by id;
 *   a result with no call to answer (Llama's built-in code interpreter runs code written in the
 *   content) has no OpenAI form, and its pair is skipped.
 */
export function toOpenAiPreference(pair: Pick<TPreferencePair, 'prompt' | 'chosen' | 'rejected'>): { line: TOpenAiPreferenceLine } | { skip: TOpenAiSkip } {
  const preferred = singleAnswer(pair.chosen);
  const nonPreferred = singleAnswer(pair.rejected);
  if (!preferred || !nonPreferred) return { skip: 'answer' };
  const messages = openAiMessages(pair.prompt);
  if (!messages) return { skip: 'toolResult' };
  return { line: { input: { messages }, preferred_output: [preferred], non_preferred_output: [nonPreferred] } };
}

function singleAnswer(messages: TMessage[]): { role: 'assistant'; content: string } | null {
  const [only] = messages;
  if (messages.length !== 1 || !only || only.role !== 'assistant' || !isPlainMessage(only)) return null;
  return { role: 'assistant', content: only.content };
}

/** The prompt's messages in OpenAI's shape, or null when a tool result answers no call. */
function openAiMessages(prompt: TMessage[]): TOpenAiMessage[] | null {
  const out: TOpenAiMessage[] = [];
  // Ids of the last assistant message's calls that no tool result has answered yet, in order.
  let pending: string[] = [];
  for (const [i, m] of prompt.entries()) {
    const role = m.role;
    if (role === 'tool' || role === 'ipython') {
      const id = m.tool_call_id ?? pending[0];
      if (id === undefined) return null;
      pending = pending.filter((p) => p !== id);
      out.push({ role: 'tool', content: m.content, tool_call_id: id });
    } else if (role === 'assistant' && m.tool_calls && m.tool_calls.length > 0) {
      const calls = m.tool_calls.map((c, j) => ({ id: c.id ?? `call_${i}_${j}`, type: 'function' as const, function: { name: c.function.name, arguments: c.function.arguments } }));
      pending = calls.map((c) => c.id);
      out.push({ role: 'assistant', ...(m.content ? { content: m.content } : {}), ...(m.name !== undefined ? { name: m.name } : {}), tool_calls: calls });
    } else {
      pending = [];
      out.push({ role, content: m.content, ...(m.name !== undefined ? { name: m.name } : {}) });
    }
  }
  return out;
}

/** Counts the pairs an export skips, by reason, for the line the CLI prints after writing. */
export function skippedPairs(): { onSkipped: (reason: TOpenAiSkip) => void; summary: () => string | null } {
  const counts = new Map<TOpenAiSkip, number>();
  return {
    onSkipped: (reason) => counts.set(reason, (counts.get(reason) ?? 0) + 1),
    summary: () => {
      if (counts.size === 0) return null;
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      const reasons = [...counts].map(([reason, n]) => `${n} with ${openAiSkipReasons[reason]}`).join('; ');
      return `skipped ${total} pair(s) that OpenAI's preference format cannot hold: ${reasons}`;
    },
  };
}
