import type { TMessage } from '@/db/schema';
import { ZMessages, ZPromptInput } from '../../content/schemas';
import { isPlainObject, LineError, parseWith, plainMessages, requirePromptText, type TComparisonRecord } from '../records';

/**
 * Answers per model (the layout of arena-hard-auto): a prompts file
 * `{"uid", "prompt", ...}` and one answers file per model
 * `{"uid", "model", "messages": [{"role": "user", ...}, {"role": "assistant", "content": {"answer": "..."} | "..."}]}`,
 * joined on uid into one comparison of two models' answers per prompt.
 */

export interface TAnswersPrompt {
  uid: string;
  prompt: TMessage[];
  /** The prompt line's other keys (`category`, `cluster`, ...). */
  metadata: Record<string, unknown>;
}

export interface TAnswer {
  uid: string;
  model: string;
  /** The assistant turn after the last user message. */
  response: TMessage[];
}

/** Which kind of line this is: a prompt line has `prompt`, an answer line `messages`. */
export function answersLineKind(json: unknown): 'prompt' | 'answer' {
  if (isPlainObject(json) && json.prompt !== undefined && json.messages === undefined) return 'prompt';
  if (isPlainObject(json) && json.messages !== undefined) return 'answer';
  throw new LineError('neither a prompt line (with "uid" and "prompt") nor an answer line (with "uid", "model" and "messages")');
}

function uidOf(json: Record<string, unknown>): string {
  const uid = json.uid;
  if (typeof uid === 'string' && uid.length > 0) return uid;
  if (typeof uid === 'number' && Number.isSafeInteger(uid)) return String(uid);
  throw new LineError(uid === undefined ? 'uid: missing' : 'uid: must be a non-empty string or an integer');
}

export function answersPrompt(json: unknown): TAnswersPrompt {
  if (!isPlainObject(json)) throw new LineError('expected a JSON object with "uid" and "prompt"');
  const uid = uidOf(json);
  const prompt = requirePromptText(plainMessages(json.prompt, 'user') ?? parseWith(ZPromptInput, json.prompt, 'prompt'), 'prompt');
  const metadata = Object.fromEntries(Object.entries(json).filter(([key]) => key !== 'uid' && key !== 'prompt'));
  return { uid, prompt, metadata };
}

export function answersAnswer(json: unknown): TAnswer {
  if (!isPlainObject(json)) throw new LineError('expected a JSON object with "uid", "model" and "messages"');
  const uid = uidOf(json);
  if (typeof json.model !== 'string' || json.model.length === 0 || json.model.length > 200) {
    throw new LineError(json.model === undefined ? 'model: missing' : 'model: must be a non-empty string of at most 200 characters');
  }
  if (!Array.isArray(json.messages)) throw new LineError('messages: must be a list of messages');
  // arena-hard writes an answer as {"answer": "..."}; the plain string is the chat shape.
  const raw = json.messages.map((m: unknown, i) => {
    if (!isPlainObject(m) || !isPlainObject(m.content)) return m;
    if (typeof m.content.answer !== 'string') throw new LineError(`messages[${i}].content: an object content needs a string "answer"`);
    return { ...m, content: m.content.answer };
  });
  const messages = plainMessages(raw, 'user') ?? parseWith(ZMessages, raw, 'messages');
  const lastUser = messages.findLastIndex((m) => m.role === 'user');
  const response = messages.slice(lastUser + 1);
  if (response.length === 0) throw new LineError('messages: no assistant answer after the last user message');
  if (response[0]!.role !== 'assistant') throw new LineError(`messages[${lastUser + 1}]: the answer must start with an assistant message`);
  return { uid, model: json.model, response };
}

/** One uid's comparison: the prompt and the two models' answers, in the order of `models`. */
export function answersComparison(prompt: TAnswersPrompt, answers: TAnswer[]): TComparisonRecord {
  return {
    kind: 'comparison',
    prompt: prompt.prompt,
    promptMetadata: prompt.metadata,
    responses: answers.map((a) => ({ content: a.response, model: a.model })),
    metadata: { uid: prompt.uid },
  };
}
