import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TMessage } from '@/db/schema';

/**
 * Where an annotator's live conversation stands, for the page to pick up after a reload. Only
 * messages and turn ids: nothing that says which models answered.
 */
export interface TLiveSession {
  /** The conversation the next message continues: the last judged turn's prompt and preferred answer. */
  conversation: TMessage[];
  /** The judged turn the next message continues, or null for a new conversation. */
  continuesTurnId: number | null;
  /** A turn sent but not judged yet: its answers are to stream (or come back stored), then to judge. */
  pending: { turnId: number; prompt: TMessage[] } | null;
}

export async function getLiveSession(db: TDb, input: { projectId: number; annotatorId: number }): Promise<TLiveSession> {
  const [latest] = await db.execute<{ id: number; prompt: TMessage[]; preferred: TMessage[] | null }>(sql`
    select t.id, p.messages as prompt,
      (select coalesce(edited.messages, chosen.messages) from judgments j
        left join responses edited on edited.id = j.edited_response_id
        left join responses chosen on chosen.id = j.chosen_response_id
        where j.comparison_id = t.comparison_id and j.annotator_id = t.annotator_id) as preferred
    from live_turns t join prompts p on p.id = t.prompt_id
    where t.annotator_id = ${input.annotatorId} and t.project_id = ${input.projectId}
    order by t.id desc limit 1`);
  if (!latest) return { conversation: [], continuesTurnId: null, pending: null };
  if (latest.preferred) return { conversation: [...latest.prompt, ...latest.preferred], continuesTurnId: Number(latest.id), pending: null };
  return { conversation: [], continuesTurnId: null, pending: { turnId: Number(latest.id), prompt: latest.prompt } };
}
