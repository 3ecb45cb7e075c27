import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { describeTokenizer, type TTokenizerKind } from '../ml/tokenizer';

/** One row of the table: all comparisons, or those of one topic. */
export interface TDataStatsRow {
  /** The prompt's (else the comparison's) `metadata.topic`; null for the total row and for comparisons without one. */
  topic: string | null;
  comparisons: number;
  /** Share of the project's comparisons, 0..1. */
  share: number;
  /** Comparisons whose prompt and responses are all counted: the token averages cover these. */
  countedComparisons: number;
  /** Average number of turns per dialog: user messages in the prompt (the response completes the last one). */
  avgTurns: number | null;
  /** Prompt plus two responses (a preference pair), averaged over the pairs of a comparison. */
  avgTokensPerExample: number | null;
  avgPromptTokens: number | null;
  avgResponseTokens: number | null;
}

export interface TDataStats {
  total: TDataStatsRow;
  /** One row per topic, largest first; empty when no comparison has a topic. */
  byTopic: TDataStatsRow[];
  /** Rows the count-tokens job has not filled yet (their comparisons are left out of the token averages). */
  uncounted: { prompts: number; responses: number };
  tokenizer: { kind: TTokenizerKind; name: string };
}

type TRawRow = {
  is_total: boolean;
  topic: string | null;
  comparisons: number;
  counted: number;
  avg_turns: number | null;
  avg_example: number | null;
  avg_prompt: number | null;
  avg_response: number | null;
};

/**
 * The preference-data table of Llama 3 (section 4.2.1, "Statistics of human preference data"):
 * number of comparisons, average turns per dialog, average tokens per example, in the prompt
 * and per response, computed in SQL over the counted rows, overall and per topic.
 *
 * An example is the prompt with two of the comparison's responses; over all pairs of a
 * comparison with n responses that averages to prompt + 2 × (mean response), which for the
 * usual two responses is just prompt + both. Token counts include the chat template's
 * per-message formatting (see server/ml/tokenizer.ts).
 */
export async function getDataStats(db: TDb, projectId: number, tokenizer = describeTokenizer()): Promise<TDataStats> {
  const [rows, uncountedRows] = await Promise.all([
    db.execute<TRawRow>(sql`
      with per_comparison as (
        select c.id,
          coalesce(nullif(p.metadata->>'topic', ''), nullif(c.metadata->>'topic', '')) as topic,
          (select count(*) from jsonb_array_elements(p.messages) m where m->>'role' = 'user') as turns,
          p.token_count as prompt_tokens,
          count(*) as responses,
          count(r.token_count) as counted_responses,
          sum(r.token_count) as response_tokens
        from comparisons c
        join prompts p on p.id = c.prompt_id
        join comparison_responses cr on cr.comparison_id = c.id
        join responses r on r.id = cr.response_id
        where c.project_id = ${projectId}
        group by c.id, p.id
      ), marked as (
        select *, prompt_tokens is not null and counted_responses = responses as counted from per_comparison
      )
      select grouping(topic) = 1 as is_total, topic,
        count(*)::int as comparisons,
        count(*) filter (where counted)::int as counted,
        avg(turns)::float8 as avg_turns,
        avg(prompt_tokens + 2.0 * response_tokens / responses) filter (where counted)::float8 as avg_example,
        avg(prompt_tokens) filter (where counted)::float8 as avg_prompt,
        (sum(response_tokens) filter (where counted) / nullif(sum(responses) filter (where counted), 0))::float8 as avg_response
      from marked
      group by grouping sets ((topic), ())
      order by is_total desc, count(*) desc, topic nulls last`),
    db.execute<{ prompts: number; responses: number }>(sql`
      select (select count(*)::int from prompts where project_id = ${projectId} and token_count is null) as prompts,
        (select count(*)::int from responses r join prompts p on p.id = r.prompt_id
          where p.project_id = ${projectId} and r.token_count is null) as responses`),
  ]);

  const all = rows.find((r) => r.is_total);
  const totalComparisons = all?.comparisons ?? 0;
  const toRow = (r: TRawRow | undefined): TDataStatsRow => ({
    topic: r && !r.is_total ? r.topic : null,
    comparisons: r?.comparisons ?? 0,
    share: totalComparisons ? (r?.comparisons ?? 0) / totalComparisons : 0,
    countedComparisons: r?.counted ?? 0,
    avgTurns: r?.avg_turns ?? null,
    avgTokensPerExample: r?.avg_example ?? null,
    avgPromptTokens: r?.avg_prompt ?? null,
    avgResponseTokens: r?.avg_response ?? null,
  });
  const topics = rows.filter((r) => !r.is_total);
  return {
    total: toRow(all),
    // A project without topics has one group (null): the total row says it all.
    byTopic: topics.length === 1 && topics[0]!.topic === null ? [] : topics.map(toRow),
    uncounted: { prompts: uncountedRows[0]?.prompts ?? 0, responses: uncountedRows[0]?.responses ?? 0 },
    tokenizer,
  };
}
