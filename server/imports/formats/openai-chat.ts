import { ZMessages } from '../../content/schemas';
import { extraFields, isPlainObject, LineError, parseWith, plainMessages, requirePromptText, type TPromptRecord } from '../records';

/**
 * OpenAI chat fine-tuning data, `{"messages": [...]}`, imported as prompts for a later
 * generation job to answer (no comparisons). A trailing assistant message is the example
 * answer, not part of the prompt: it is dropped. Roles must be Pairwise's (system, user,
 * assistant, tool, ipython). Other keys (`tools`, ...) go to the prompt's metadata.
 */
export function openaiChatRecord(json: unknown): TPromptRecord {
  if (!isPlainObject(json)) throw new LineError('expected a JSON object with "messages"');
  if (json.messages === undefined) throw new LineError('messages: missing');
  let messages = (Array.isArray(json.messages) ? plainMessages(json.messages, 'user') : null) ?? parseWith(ZMessages, json.messages, 'messages');
  if (messages.at(-1)!.role === 'assistant') messages = messages.slice(0, -1);
  if (!messages.some((m) => m.role === 'user')) throw new LineError('messages: no user message to answer');
  requirePromptText(messages, 'messages');
  return { kind: 'prompt', prompt: messages, metadata: extraFields(json, ['messages']) };
}
