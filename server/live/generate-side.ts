import { eq, sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { models, prompts, responses, type TMessage } from '@/db/schema';
import { env } from '../env';
import { ModelEndpointError, streamChatCompletion } from '../inference/openai-stream';
import type { TSide } from './schemas';
import { requireOwnTurn } from './turns';

type TModelRow = typeof models.$inferSelect;

/** The text of a stored live response (one assistant message). */
function storedText(messages: TMessage[]): string {
  return messages.filter((m) => m.role === 'assistant').map((m) => m.content).join('\n\n');
}

/**
 * Endpoint messages can quote the model (vLLM: "The model `x` does not exist"); annotators
 * must never learn which model answered, so its name, API model and URL are blanked out.
 */
function withoutModelIdentity(message: string, model: TModelRow): string {
  let out = message;
  for (const secret of [model.baseUrl.replace(/\/+$/, ''), model.apiModel, model.name]) {
    if (secret.length >= 2) out = out.split(secret).join('[model]');
  }
  return out;
}

/**
 * Stores a finished side once. The turn's row lock orders two streams of the same side (a
 * reconnect while the first is still running): the later one finds the side stored and
 * writes nothing, so no orphan response is left behind.
 */
async function storeSide(db: TDb, input: { turnId: number; side: TSide; promptId: number; model: TModelRow; text: string; annotatorId: number }): Promise<void> {
  await db.transaction(async (tx) => {
    const turn = await requireOwnTurn(tx, { turnId: input.turnId, annotatorId: input.annotatorId, lock: true });
    if (turn.responseIds[input.side] !== null) return;
    const [row] = await tx
      .insert(responses)
      .values({
        promptId: input.promptId,
        messages: [{ role: 'assistant', content: input.text }],
        model: input.model.name,
        origin: 'model',
        sampling: { ...input.model.sampling },
      })
      .returning({ id: responses.id });
    // PostgreSQL arrays count from 1.
    await tx.execute(sql`update live_turns set response_ids[${input.side + 1}] = ${row!.id} where id = ${input.turnId}`);
  });
}

/**
 * Streams one side's answer of a live turn, delta by delta, and stores it as a response when
 * the model finishes. A side stored already (a reconnect, a retry after the other side
 * failed) comes back whole at once without asking the model again. A failure throws a
 * ModelEndpointError with a message for the annotator; nothing stored is ever removed.
 */
export async function* generateSide(
  db: TDb,
  input: { turnId: number; side: TSide; annotatorId: number; signal?: AbortSignal; timeoutMs?: number },
): AsyncGenerator<string> {
  const turn = await requireOwnTurn(db, input);
  const storedId = turn.responseIds[input.side];
  if (storedId !== null && storedId !== undefined) {
    const [stored] = await db.select({ messages: responses.messages }).from(responses).where(eq(responses.id, storedId));
    if (stored) {
      yield storedText(stored.messages);
      return;
    }
  }

  const [model] = await db.select().from(models).where(eq(models.id, turn.modelIds[input.side]!));
  if (!model) throw new ModelEndpointError('The model chosen for this answer is no longer registered. Send your message again.', { retryable: false });
  const [prompt] = await db.select({ messages: prompts.messages }).from(prompts).where(eq(prompts.id, turn.promptId));

  let text = '';
  try {
    const deltas = streamChatCompletion(model, prompt!.messages, { timeoutMs: input.timeoutMs ?? env().PAIRWISE_LIVE_TIMEOUT_MS, signal: input.signal });
    for await (const delta of deltas) {
      text += delta;
      yield delta;
    }
    if (!text.trim()) throw new ModelEndpointError('The model sent an empty answer.', { retryable: true });
  } catch (error) {
    if (!(error instanceof ModelEndpointError)) throw error;
    // The full story (which model) is for the server log, where admins look.
    console.warn(`[live] turn ${turn.id} side ${input.side} (model ${model.name}): ${error.message}`);
    throw new ModelEndpointError(withoutModelIdentity(error.message, model), { retryable: error.retryable, status: error.status, cause: error });
  }
  await storeSide(db, { turnId: turn.id, side: input.side, promptId: turn.promptId, model, text, annotatorId: input.annotatorId });
}
