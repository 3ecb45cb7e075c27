import type postgres from 'postgres';
import { AppError } from '../errors';
import type { TBattles } from '../ml/bradley-terry';
import { inlineInt, loadNumericColumns, orderBy } from './copy-ints';

export interface TModelBattles extends TBattles {
  /** Model name of each model index. */
  models: string[];
}

/** A round label is inlined into a query that takes no parameters: only plain labels pass. */
function roundFilter(round: string | undefined): string {
  if (round === undefined) return '';
  if (!/^[\w .:-]{1,100}$/.test(round)) throw new AppError('BAD_REQUEST', 'a round label is letters, digits, spaces and . : _ -', { field: 'round' });
  return `and c.metadata->>'round' = '${round}'`;
}

/**
 * Battles between models, from every judgment's ranks (pairs, triples, rankings alike): each
 * pair of responses from two *different* models whose ranks differ is a battle won by the
 * better-ranked one; equal ranks are a tie. Edits and human responses have no model and take
 * no part. In judgment order, for Elo; streamed in large batches into typed arrays.
 * `round` selects comparisons whose metadata names that round (until rounds are first-class).
 */
export async function loadModelBattles(sql: postgres.Sql, projectId: number, options: { round?: string } = {}): Promise<TModelBattles> {
  const filter = roundFilter(options.round);
  const models = (
    await sql<{ model: string }[]>`
      select distinct r.model from responses r join prompts p on p.id = r.prompt_id
      where p.project_id = ${projectId} and r.model is not null order by r.model`
  ).map((r) => r.model);
  if (models.length < 2) return { models, a: new Int32Array(0), b: new Int32Array(0), outcome: new Float32Array(0) };
  const [judgment, a, b, outcome] = await loadNumericColumns(
    sql,
    `with names as (
       select model, (row_number() over (order by model) - 1)::int as idx from (
         select distinct r.model from responses r join prompts p on p.id = r.prompt_id
         where p.project_id = ${inlineInt(projectId)} and r.model is not null) m)
     select j.id, na.idx, nb.idx, case when x.rank < y.rank then 1.0 when x.rank > y.rank then 0.0 else 0.5 end
     from judgments j
     join comparisons c on c.id = j.comparison_id
     join judgment_ranks x on x.judgment_id = j.id
     join judgment_ranks y on y.judgment_id = j.id and x.response_id < y.response_id
     join responses ra on ra.id = x.response_id
     join responses rb on rb.id = y.response_id
     join names na on na.model = ra.model
     join names nb on nb.model = rb.model
     where j.project_id = ${inlineInt(projectId)} and ra.model <> rb.model ${filter}`,
    4,
  );
  // Elo is online: battles in judgment order.
  const order = orderBy(judgment!);
  return {
    models,
    a: Int32Array.from(order, (i) => a![i]!),
    b: Int32Array.from(order, (i) => b![i]!),
    outcome: Float32Array.from(order, (i) => outcome![i]!),
  };
}
