import type postgres from 'postgres';
import type { TMessage } from '@/db/schema';

/** One TRL conversational preference row with an explicit prompt (what DPOTrainer reads). */
export interface TTrlPreferenceRow {
  prompt: TMessage[];
  chosen: TMessage[];
  rejected: TMessage[];
}

export async function countProjectJudgments(sql: postgres.Sql, projectId: number): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from judgments where project_id = ${projectId}`;
  return row?.n ?? 0;
}

/**
 * Every judgment of a project as TRL preference JSONL lines, one judgment a line, in judgment
 * order. Chosen and rejected come from the judgment's response ids, which submitJudgment
 * mapped from the shown (randomised) order. Read through a server-side cursor in batches,
 * so memory stays flat however large the project.
 */
export async function* streamTrlPreferenceLines(
  sql: postgres.Sql,
  projectId: number,
  options: { batchSize?: number; onRows?: (rows: number) => void } = {},
): AsyncGenerator<string> {
  const cursor = sql<{ prompt: TMessage[]; chosen: TMessage[]; rejected: TMessage[] }[]>`
    select p.messages as prompt, cr.messages as chosen, rr.messages as rejected
    from judgments j
    join comparisons c on c.id = j.comparison_id
    join prompts p on p.id = c.prompt_id
    join responses cr on cr.id = j.chosen_response_id
    join responses rr on rr.id = j.rejected_response_id
    where j.project_id = ${projectId}
    order by j.id`.cursor(options.batchSize ?? 500);
  for await (const rows of cursor) {
    let chunk = '';
    for (const row of rows) {
      const line: TTrlPreferenceRow = { prompt: row.prompt, chosen: row.chosen, rejected: row.rejected };
      chunk += JSON.stringify(line) + '\n';
    }
    options.onRows?.(rows.length);
    yield chunk;
  }
}
