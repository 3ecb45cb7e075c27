import type postgres from 'postgres';
import type { TMessage } from '@/db/schema';
import { jsonLinesOf, writeJsonLines } from '../formats/json-lines';
import { trainingMessages } from '../formats/training-messages';
import type { TPairOptions } from './preference-pairs';

/** `{"messages": [...]}`: the conversation with the judgment's best response, for SFT. */
export interface TSftLine {
  messages: TMessage[];
}

// Per judgment, the best response: a reviewer's corrected choice (pairs without an edit), else
// the single response ranked first (the edit when there is one); ties at the top give none.
const sftQuery = (sql: postgres.Sql, projectId: number, options: TPairOptions) => sql`
  from judgments j
  join comparisons c on c.id = j.comparison_id
  join prompts p on p.id = c.prompt_id
  left join reviews rv on rv.judgment_id = j.id
  cross join lateral (
    select coalesce(
      case when rv.decision = 'correct' and j.edited_response_id is null then
        (select x.response_id from comparison_responses x where x.comparison_id = j.comparison_id and x.position = rv.corrected_choice) end,
      (select min(t.response_id) from judgment_ranks t where t.judgment_id = j.id and t.rank = 1
        having count(*) = 1)) as response_id
  ) best
  join responses r on r.id = best.response_id
  where j.project_id = ${projectId} and (rv.decision is null or rv.decision <> 'reject')
    and not (j.annotator_id = any(${`{${(options.excludeAnnotators ?? []).map((id) => Math.trunc(id)).join(',')}}`}::bigint[]))`;

export async function countSftLines(sql: postgres.Sql, projectId: number, options: TPairOptions = {}): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n ${sftQuery(sql, projectId, options)}`;
  return row?.n ?? 0;
}

/** SFT conversations, one per judgment with a single best response, through a server-side cursor. */
export async function* sftConversations(
  sql: postgres.Sql,
  projectId: number,
  options: { batchSize?: number } & TPairOptions = {},
): AsyncGenerator<TSftLine> {
  const cursor = sql<{ prompt: TMessage[]; best: TMessage[] }[]>`
    select p.messages as prompt, r.messages as best ${sftQuery(sql, projectId, options)}
    order by j.id`.cursor(options.batchSize ?? 500);
  for await (const rows of cursor) {
    for (const row of rows) yield { messages: trainingMessages([...row.prompt, ...row.best]) };
  }
}

/** SFT lines (`{"messages": [...]}`) as JSONL, opening with their shape witnesses (server/formats/json-lines.ts). */
export function streamSftLines(sql: postgres.Sql, projectId: number, options: { batchSize?: number; onRows?: (rows: number) => void } & TPairOptions = {}): AsyncGenerator<string> {
  return writeJsonLines(jsonLinesOf(sftConversations(sql, projectId, options)), { witnessesFirst: true, onRows: options.onRows });
}
