import type postgres from 'postgres';
import type { TBattles } from '../ml/bradley-terry';

export interface TModelBattles extends TBattles {
  /** Model name of each model index. */
  models: string[];
}

/**
 * Battles between models, from every judgment's ranks (pairs, triples, rankings alike): each
 * pair of responses from two *different* models whose ranks differ is a battle won by the
 * better-ranked one; equal ranks are a tie. Edits and human responses have no model and take
 * no part. In judgment order, for Elo. One SQL aggregate into typed arrays.
 * `round` selects comparisons whose metadata names that round (until rounds are first-class).
 */
export async function loadModelBattles(sql: postgres.Sql, projectId: number, options: { round?: string } = {}): Promise<TModelBattles> {
  const [row] = await sql<{ models: string[] | null; a: string | null; b: string | null; outcome: string | null }[]>`
    with pairs as (
      select j.id, ra.model as model_a, rb.model as model_b,
        case when x.rank < y.rank then 1 when x.rank > y.rank then 0 else 0.5 end as outcome
      from judgments j
      join comparisons c on c.id = j.comparison_id
      join judgment_ranks x on x.judgment_id = j.id
      join judgment_ranks y on y.judgment_id = j.id and x.response_id < y.response_id
      join responses ra on ra.id = x.response_id
      join responses rb on rb.id = y.response_id
      where j.project_id = ${projectId} and ra.model is not null and rb.model is not null and ra.model <> rb.model
        and (${options.round ?? null}::text is null or c.metadata->>'round' = ${options.round ?? null}::text)
    ), names as (
      select array_agg(model order by model) as models from (select model_a as model from pairs union select model_b from pairs) m
    )
    select (select models from names) as models,
      string_agg((array_position((select models from names), model_a) - 1)::text, ',' order by id) as a,
      string_agg((array_position((select models from names), model_b) - 1)::text, ',' order by id) as b,
      string_agg(outcome::text, ',' order by id) as outcome
    from pairs`;
  const models = row?.models ?? [];
  const split = (text: string | null) => (text ? text.split(',') : []);
  const a = split(row?.a ?? null);
  const b = split(row?.b ?? null);
  const outcome = split(row?.outcome ?? null);
  return {
    models,
    a: Int32Array.from(a, Number),
    b: Int32Array.from(b, Number),
    outcome: Float32Array.from(outcome, Number),
  };
}
