import type { TMessage } from '@/db/schema';
import { trainingMessages } from './training-messages';

/**
 * TRL's conversational prompt/completion form for SFT: `SFTTrainer` computes the loss on the
 * completion only, whatever the chat template. (`assistant_only_loss` on `{"messages": [...]}`
 * needs a template TRL knows the generation markers of; Llama 3.1's is not one.)
 */
export interface TSftCompletionLine {
  prompt: TMessage[];
  completion: TMessage[];
}

/** A context and its answer (one or several messages: a tool call, its result, the final answer). */
export function toSftCompletion(prompt: TMessage[], answer: TMessage[]): TSftCompletionLine {
  return { prompt: trainingMessages(prompt), completion: trainingMessages(answer) };
}

/**
 * An SFT version's conversation (`{"messages": [...prompt, best]}`, written by rejection
 * sampling) split into prompt and completion: the completion is its last message, the sampled
 * answer, which is one assistant message. Splitting after the last user message instead would
 * move a prompt's own tool call and result (a prompt may end with them) into the completion.
 */
export function splitSftConversation(messages: TMessage[]): TSftCompletionLine {
  const last = messages[messages.length - 1];
  if (!last || last.role !== 'assistant' || messages.length < 2) {
    throw new Error(`an SFT conversation must end with the assistant's answer after a prompt; this one ends with ${last ? `a ${last.role} message` : 'nothing'}`);
  }
  return toSftCompletion(messages.slice(0, -1), [last]);
}
