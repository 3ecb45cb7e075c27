import type { TMessage } from '@/db/schema';
import { canonicalMessagesJson, externalId, extraFields, isPlainObject, LineError, requirePromptText, type TComparisonRecord } from '../records';

const MARKER = /\n\n(Human|Assistant):/g;

/**
 * One HH-RLHF transcript ("\n\nHuman: ...\n\nAssistant: ...") as messages: Human turns are user
 * messages, Assistant turns assistant messages. The one space after each "Human:" and
 * "Assistant:" belongs to the marker, so the export (toHhTranscript) writes the same bytes back;
 * a turn without that space imports the same but exports with it. Empty turns are kept as they are.
 */
export function parseHhTranscript(text: string, field: string): TMessage[] {
  const messages: TMessage[] = [];
  MARKER.lastIndex = 0;
  let match = MARKER.exec(text);
  if (!match || match.index !== 0) throw new LineError(`${field}: a transcript starts with "\\n\\nHuman:" (or "\\n\\nAssistant:")`);
  while (match) {
    const role = match[1] === 'Human' ? 'user' : 'assistant';
    const start = match.index + match[0].length;
    const next = MARKER.exec(text);
    const turn = text.slice(start, next ? next.index : text.length);
    // An empty turn is kept: the data set holds empty Assistant turns, some of them chosen.
    messages.push({ role, content: turn.startsWith(' ') ? turn.slice(1) : turn });
    match = next;
  }
  return messages;
}

/** The messages after the last Human turn (the response) and before it (the prompt). */
function splitTranscript(messages: TMessage[], field: string): { prompt: TMessage[]; response: TMessage[] } {
  if (messages.at(-1)!.role !== 'assistant') throw new LineError(`${field}: the transcript does not end with an Assistant turn`);
  const lastHuman = messages.findLastIndex((m) => m.role === 'user');
  if (lastHuman < 0) throw new LineError(`${field}: no Human turn before the last Assistant turn`);
  return { prompt: messages.slice(0, lastHuman + 1), response: messages.slice(lastHuman + 1) };
}

/**
 * Anthropic HH-RLHF: `{"chosen": transcript, "rejected": transcript}`, labelled chosen > rejected.
 * Both hold the whole conversation; the prompt is what they share before their last Assistant
 * turn. Other keys go to the comparison's metadata; `id` is the external id.
 */
export function hhRecord(json: unknown): TComparisonRecord {
  if (!isPlainObject(json)) throw new LineError('expected a JSON object with "chosen" and "rejected"');
  for (const field of ['chosen', 'rejected'] as const) {
    if (json[field] === undefined) throw new LineError(`${field}: missing`);
    if (typeof json[field] !== 'string') throw new LineError(`${field}: must be a string (an HH-RLHF transcript)`);
  }
  const chosen = splitTranscript(parseHhTranscript(json.chosen as string, 'chosen'), 'chosen');
  const rejected = splitTranscript(parseHhTranscript(json.rejected as string, 'rejected'), 'rejected');
  requirePromptText(chosen.prompt, 'chosen');
  if (canonicalMessagesJson(chosen.prompt) !== canonicalMessagesJson(rejected.prompt)) {
    throw new LineError('chosen and rejected do not share the conversation before their last Assistant turn');
  }
  return {
    kind: 'comparison',
    id: externalId(json.id),
    prompt: chosen.prompt,
    responses: [{ content: chosen.response }, { content: rejected.response }],
    metadata: extraFields(json, ['chosen', 'rejected', 'id']),
    preferred: 0,
  };
}
