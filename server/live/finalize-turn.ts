import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TMessage } from '@/db/schema';
import { bigintArray, loadLeasedComparisons, type TLeasedComparison } from '../annotation/lease';
import { contentHash } from '../content/hash';
import { AppError } from '../errors';
import { requireOwnTurn, type TTurn } from './turns';

/** Creates the turn's comparison (once) from its two stored responses; returns its id. */
async function createComparison(tx: TDb, turn: TTurn, responseIds: number[]): Promise<number> {
  const [content] = await tx.execute<{ prompt: TMessage[]; responses: { messages: TMessage[]; model: string | null }[] }>(sql`
    select p.messages as prompt,
      (select json_agg(json_build_object('messages', r.messages, 'model', r.model) order by s.ord)
        from unnest(${bigintArray(responseIds)}) with ordinality as s(id, ord) join responses r on r.id = s.id) as responses
    from prompts p where p.id = ${turn.promptId}`);
  // Hashed like imported comparisons, plus the turn: deterministic models can answer two
  // turns identically, and each turn must still get its own comparison.
  const hash = contentHash({
    prompt: content!.prompt,
    responses: content!.responses.map((r) => ({ content: r.messages, model: r.model })),
    liveTurnId: turn.id,
  });
  const [comparison] = await tx.execute<{ id: number }>(sql`
    insert into comparisons (project_id, prompt_id, content_hash, judgments_required, metadata)
    values (${turn.projectId}, ${turn.promptId}, ${hash}, 1, ${JSON.stringify({ live: true, turn_id: turn.id })}::jsonb)
    returning id`);
  const comparisonId = Number(comparison!.id);
  await tx.execute(sql`
    insert into comparison_responses (comparison_id, position, response_id)
    select ${comparisonId}, s.ord - 1, s.id from unnest(${bigintArray(responseIds)}) with ordinality as s(id, ord)`);
  await tx.execute(sql`update live_turns set comparison_id = ${comparisonId} where id = ${turn.id}`);
  return comparisonId;
}

/**
 * Once both sides are stored, turns the live turn into a comparison (judgments_required 1)
 * leased to its annotator, and returns it as the judging UI shows it. Idempotent: calling it
 * again returns the same comparison, with the lease renewed.
 *
 * The shown order is the side order. Sides are already a random draw of the two models, so
 * positions stay random with respect to models, and the answer the annotator watched stream
 * in as "Response A" is still Response A when they judge it.
 */
export async function finalizeTurn(db: TDb, input: { turnId: number; annotatorId: number }): Promise<TLeasedComparison> {
  return db.transaction(async (tx) => {
    const turn = await requireOwnTurn(tx, { ...input, lock: true });
    const responseIds = turn.responseIds.filter((id): id is number => id !== null);
    if (responseIds.length !== turn.responseIds.length) throw new AppError('CONFLICT', 'both answers must be complete before judging');
    const comparisonId = turn.comparisonId ?? (await createComparison(tx, turn, responseIds));

    const [lease] = await tx.execute<{ id: number }>(sql`
      insert into assignments (comparison_id, annotator_id, shown_response_ids, expires_at)
      select ${comparisonId}, ${input.annotatorId}, ${bigintArray(responseIds)}, now() + make_interval(secs => p.lease_seconds)
      from projects p where p.id = ${turn.projectId}
      on conflict (comparison_id, annotator_id) do update set expires_at = excluded.expires_at
        where assignments.status = 'active'
      returning id`);
    if (!lease) throw new AppError('CONFLICT', 'you already judged the answers to this message');
    const [item] = await loadLeasedComparisons(tx, [Number(lease.id)]);
    return item!;
  });
}
