import type { TMessage } from '@/db/schema';
import { ZMessages, ZPromptInput, ZResponseContent } from '../../content/schemas';
import {
  canonicalMessagesJson,
  externalId,
  extraFields,
  isPlainObject,
  LineError,
  parseWith,
  plainMessages,
  requirePromptText,
  splitLastAssistantTurn,
  type TComparisonRecord,
} from '../records';

/**
 * TRL preference data, one pair a line, labelled chosen > rejected:
 * - standard: `{"prompt": str, "chosen": str, "rejected": str}`;
 * - conversational: the same keys holding message lists (a string prompt is one user turn);
 * - implicit prompt: `{"chosen": [msgs], "rejected": [msgs]}`, both the whole conversation: the
 *   prompt is what they share before their last assistant turn.
 * Other keys (`score_chosen`, `margin`, ...) go to the comparison's metadata, as do the keys of
 * a `metadata` object; `id` is the external id.
 */
export function trlRecord(json: unknown): TComparisonRecord {
  if (!isPlainObject(json)) throw new LineError('expected a JSON object with "chosen" and "rejected"');
  if (json.chosen === undefined) throw new LineError('chosen: missing');
  if (json.rejected === undefined) throw new LineError('rejected: missing');
  let prompt: TMessage[];
  let chosen: TMessage[];
  let rejected: TMessage[];
  if (json.prompt !== undefined) {
    prompt = requirePromptText(plainMessages(json.prompt, 'user') ?? parseWith(ZPromptInput, json.prompt, 'prompt'), 'prompt');
    chosen = plainMessages(json.chosen, 'assistant') ?? parseWith(ZResponseContent, json.chosen, 'chosen');
    rejected = plainMessages(json.rejected, 'assistant') ?? parseWith(ZResponseContent, json.rejected, 'rejected');
  } else {
    if (typeof json.chosen === 'string' || typeof json.rejected === 'string') {
      throw new LineError(
        'implicit prompt: chosen and rejected are plain strings, so the prompt inside them cannot be told from the response; add a "prompt" field or give message lists',
      );
    }
    const c = splitLastAssistantTurn(conversation(json.chosen, 'chosen'), 'chosen');
    const r = splitLastAssistantTurn(conversation(json.rejected, 'rejected'), 'rejected');
    if (canonicalMessagesJson(c.prompt) !== canonicalMessagesJson(r.prompt)) {
      throw new LineError('implicit prompt: chosen and rejected do not share the conversation before their last assistant turn');
    }
    prompt = requirePromptText(c.prompt, 'chosen');
    chosen = c.response;
    rejected = r.response;
  }
  return {
    kind: 'comparison',
    id: externalId(json.id),
    prompt,
    responses: [{ content: chosen }, { content: rejected }],
    metadata: extraFields(json, ['prompt', 'chosen', 'rejected', 'id']),
    preferred: 0,
  };
}

function conversation(value: unknown, field: string): TMessage[] {
  return (Array.isArray(value) ? plainMessages(value, 'user') : null) ?? parseWith(ZMessages, value, field);
}

