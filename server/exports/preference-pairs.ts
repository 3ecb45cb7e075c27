import type postgres from 'postgres';
import type { TMessage } from '@/db/schema';
import type { TStrength } from '../annotation/strengths';

/** One preference pair expanded from a judgment, with where it came from. */
export interface TPreferencePair {
  prompt: TMessage[];
  chosen: TMessage[];
  rejected: TMessage[];
  metadata: {
    judgment_id: number;
    comparison_id: number;
    comparison_external_id: string | null;
    annotator_id: number;
    /** Strength of this pair's preference; null where none was asked (pairs with an edit, rankings without strengths). */
    strength: TStrength | null;
    /** 'edited>chosen', 'edited>rejected', 'chosen>rejected' for pairs; 'rank i>rank j' for rankings. */
    relation: string;
    flags: string[];
    chosen_model: string | null;
    rejected_model: string | null;
    chosen_origin: string;
    rejected_origin: string;
    guidelines_version: number | null;
    /** The reviewer's decision, if any: 'accept', or 'correct' (this line then holds the correction). */
    review: 'accept' | 'reject' | 'correct' | null;
    /** Imported labels only: the format and file they came from ("trl:pairs.jsonl"); absent for judgments made in Pairwise. */
    source?: string;
  };
}

interface TRow<M = TMessage[]> {
  judgment_id: string;
  prompt_hash: string;
  effective_choice: number | null;
  consensus_choice: number | null;
  consensus_strength: TStrength | null;
  comparison_id: string;
  external_id: string | null;
  annotator_id: string;
  flags: string[];
  strength: TStrength | null;
  rank_strengths: TStrength[] | null;
  has_edit: boolean;
  is_pair: boolean;
  guidelines_version: number | null;
  source: string | null;
  prompt: M;
  hi_rank: number;
  lo_rank: number;
  chosen: M;
  chosen_model: string | null;
  chosen_origin: string;
  rejected: M;
  rejected_model: string | null;
  rejected_origin: string;
  review: 'accept' | 'reject' | 'correct' | null;
  corrected_strength: TStrength | null;
  choice_pair: boolean;
  flip: boolean;
}

// Stronger first, as in the enum: a smaller index is a stronger preference.
const strengthOrder: TStrength[] = ['significantly_better', 'better', 'slightly_better', 'marginally_better'];

/**
 * The strength of a pair: for the chosen/rejected of a pair judgment, the judgment's strength;
 * between two ranks of a ranking, the strongest of the adjacent strengths it spans (a response
 * ranked two places lower is at least as far behind as the largest single step). Pairs that
 * involve an edit have none: the annotator rated the original choice, not the rewrite.
 */
function pairStrength(row: TRow<unknown>, hi: number, lo: number): TStrength | null {
  if (row.is_pair) return hi === 1 && lo === 2 ? row.strength : null;
  if (!row.rank_strengths) return null;
  const spanned = row.rank_strengths.slice(hi - 1, lo - 1);
  return spanned.sort((a, b) => strengthOrder.indexOf(a) - strengthOrder.indexOf(b))[0] ?? null;
}

function relation(row: TRow<unknown>, hi: number, lo: number, hiRank: number, loRank: number): string {
  if (row.is_pair) {
    const name = (rank: number) => (row.has_edit ? ['edited', 'chosen', 'rejected'] : ['chosen', 'rejected'])[rank - 1];
    return `${name(hiRank)}>${name(loRank)}`;
  }
  return row.has_edit && hiRank === 1 ? `edited>rank ${lo}` : `rank ${hi}>rank ${lo}`;
}

export interface TPairOptions {
  /** Leave out these annotators' judgments (e.g. those flagged by gold accuracy). */
  excludeAnnotators?: number[];
  /** More conditions on the judgment (`j`), comparison (`c`), prompt (`p`) and ranks (`hi`, `lo`). */
  where?: postgres.PendingQuery<postgres.Row[]>;
  /**
   * Which pairs a ranking gives: every ordered pair of different ranks (default, as in the
   * exports), adjacent ranks only, or the best response against each of the others.
   */
  expansion?: TExpansion;
  /**
   * A temporary table (comparison_id, choice, strength) of consensus verdicts on the same
   * connection: pair comparisons then give one chosen>rejected pair each, with the consensus
   * strength, from the first judgment that agrees; edit pairs come from agreeing judgments
   * only; ties give nothing. Rankings have no consensus and keep every judgment.
   */
  consensusTable?: string;
}

export const expansions = ['all', 'adjacent', 'top'] as const;
export type TExpansion = (typeof expansions)[number];

/** A pair with the content hash of its prompt (for splits and dedup; not part of any export). */
export type TSelectedPair = TPreferencePair & { promptHash: string };

// Judgments a reviewer rejected are left out; corrections are applied in streamPreferencePairs.
const pairsQuery = (sql: postgres.Sql, projectId: number, options: TPairOptions = {}) => sql`
  from judgments j
  join comparisons c on c.id = j.comparison_id
  join prompts p on p.id = c.prompt_id
  join judgment_ranks hi on hi.judgment_id = j.id
  join judgment_ranks lo on lo.judgment_id = j.id and lo.rank > hi.rank
  join responses cr on cr.id = hi.response_id
  join responses rr on rr.id = lo.response_id
  left join reviews rv on rv.judgment_id = j.id
  left join comparison_responses xc on xc.comparison_id = j.comparison_id and xc.response_id = j.chosen_response_id
  ${options.consensusTable ? sql`left join ${sql(options.consensusTable)} k on k.comparison_id = j.comparison_id` : sql``}
  where j.project_id = ${projectId} and (rv.decision is null or rv.decision <> 'reject')
    and not (j.annotator_id = any(${`{${(options.excludeAnnotators ?? []).map((id) => Math.trunc(id)).join(',')}}`}::bigint[]))
    ${expansionCondition(sql, options.expansion ?? 'all')}
    ${options.where ? sql`and ${options.where}` : sql``}`;

function expansionCondition(sql: postgres.Sql, expansion: TExpansion) {
  if (expansion === 'top') return sql`and hi.rank = (select min(t.rank) from judgment_ranks t where t.judgment_id = j.id)`;
  if (expansion === 'adjacent') return sql`and lo.rank = (select min(t.rank) from judgment_ranks t where t.judgment_id = j.id and t.rank > hi.rank)`;
  return sql``;
}

export async function countPreferencePairs(sql: postgres.Sql, projectId: number, options: TPairOptions = {}): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n ${pairsQuery(sql, projectId, options)}`;
  return row?.n ?? 0;
}

/** A selected pair whose messages are still JSON text, as PostgreSQL sent them (no parse). */
export type TSelectedPairText = Omit<TSelectedPair, 'prompt' | 'chosen' | 'rejected'> & { prompt: string; chosen: string; rejected: string };

/**
 * Every preference pair of a project: a pair judgment gives chosen>rejected, with an edit the
 * triple edited>chosen, edited>rejected, chosen>rejected; a ranking every ordered pair of
 * different ranks. Read through a server-side cursor, in judgment order.
 */
export function streamPreferencePairs(
  sql: postgres.Sql,
  projectId: number,
  options: { batchSize?: number } & TPairOptions = {},
): AsyncGenerator<TSelectedPair[]> {
  return streamPairs<TMessage[]>(sql, projectId, options, false);
}

/**
 * The same pairs with each message list as JSON text: exports that only copy conversations
 * into their lines splice the text in and skip a parse and a stringify of every message.
 */
export function streamPreferencePairsAsText(
  sql: postgres.Sql,
  projectId: number,
  options: { batchSize?: number } & TPairOptions = {},
): AsyncGenerator<TSelectedPairText[]> {
  return streamPairs<string>(sql, projectId, options, true);
}

async function* streamPairs<M>(
  sql: postgres.Sql,
  projectId: number,
  options: { batchSize?: number } & TPairOptions,
  asText: boolean,
): AsyncGenerator<(Omit<TSelectedPair, 'prompt' | 'chosen' | 'rejected'> & { prompt: M; chosen: M; rejected: M })[]> {
  const consensus = options.consensusTable
    ? sql`k.choice as consensus_choice, k.strength as consensus_strength,`
    : sql`null::int as consensus_choice, null::preference_strength as consensus_strength,`;
  const messages = (column: string) => (asText ? sql`${sql(column)}::text` : sql`${sql(column)}`);
  // Comparisons whose chosen>rejected pair has been given already (consensus mode only).
  const given = new Set<number>();
  const cursor = sql<TRow<M>[]>`
    select j.id as judgment_id, p.content_hash as prompt_hash, ${consensus}
      case when rv.decision = 'correct' then rv.corrected_choice else xc.position end as effective_choice,
      j.comparison_id, c.external_id, j.annotator_id, j.flags, j.strength, j.rank_strengths,
      j.edited_response_id is not null as has_edit, j.chosen_position is not null as is_pair, j.guidelines_version, j.source,
      ${messages('p.messages')} as prompt, hi.rank as hi_rank, lo.rank as lo_rank,
      ${messages('cr.messages')} as chosen, cr.model as chosen_model, cr.origin as chosen_origin,
      ${messages('rr.messages')} as rejected, rr.model as rejected_model, rr.origin as rejected_origin,
      rv.decision as review, rv.corrected_strength,
      (hi.response_id = j.chosen_response_id and lo.response_id = j.rejected_response_id) as choice_pair,
      (rv.decision = 'correct' and rv.corrected_choice is distinct from xc.position) as flip
    ${pairsQuery(sql, projectId, options)}
    order by j.id, hi.rank, lo.rank, hi.response_id, lo.response_id`.cursor(options.batchSize ?? 2000);
  for await (const rows of prefetched(cursor)) {
    const kept = options.consensusTable ? rows.filter((row) => agreesWithConsensus(row, given)) : rows;
    if (kept.length === 0) continue;
    yield kept.map((row) => {
      // Ranks without the edit's place, for the ranking's own strengths and names.
      const offset = row.has_edit ? 1 : 0;
      const hi = row.hi_rank - offset;
      const lo = row.lo_rank - offset;
      // A reviewer's correction replaces the annotator's choice (and strength) for the
      // chosen/rejected pair; pairs with an edit keep the annotator's rewrite on top.
      const corrected = row.review === 'correct' && row.choice_pair;
      const flipped = corrected && row.flip;
      const pair = flipped
        ? { chosen: row.rejected, rejected: row.chosen, chosen_model: row.rejected_model, rejected_model: row.chosen_model, chosen_origin: row.rejected_origin, rejected_origin: row.chosen_origin }
        : { chosen: row.chosen, rejected: row.rejected, chosen_model: row.chosen_model, rejected_model: row.rejected_model, chosen_origin: row.chosen_origin, rejected_origin: row.rejected_origin };
      return {
        promptHash: row.prompt_hash,
        prompt: row.prompt,
        chosen: pair.chosen,
        rejected: pair.rejected,
        metadata: {
          judgment_id: Number(row.judgment_id),
          comparison_id: Number(row.comparison_id),
          comparison_external_id: row.external_id,
          annotator_id: Number(row.annotator_id),
          strength:
            options.consensusTable && row.is_pair && row.choice_pair
              ? row.consensus_strength
              : corrected
                ? row.corrected_strength
                : hi >= 1
                  ? pairStrength(row, hi, lo)
                  : null,
          relation: relation(row, hi, lo, row.hi_rank, row.lo_rank),
          flags: row.flags,
          chosen_model: pair.chosen_model,
          rejected_model: pair.rejected_model,
          chosen_origin: pair.chosen_origin,
          rejected_origin: pair.rejected_origin,
          guidelines_version: row.guidelines_version,
          review: row.review,
          ...(row.source === null ? {} : { source: row.source }),
        },
      };
    });
  }
}

/**
 * Consensus mode (see TPairOptions.consensusTable): whether a pair row stays. Rows come in
 * judgment order, so "the first agreeing judgment" is the first one seen.
 */
function agreesWithConsensus(row: TRow<unknown>, given: Set<number>): boolean {
  if (!row.is_pair) return true;
  if (row.consensus_choice === null || row.effective_choice !== row.consensus_choice) return false;
  if (!row.choice_pair) return true;
  const comparisonId = Number(row.comparison_id);
  if (given.has(comparisonId)) return false;
  given.add(comparisonId);
  return true;
}

/**
 * Asks for the next batch of a cursor before handing out the current one, so that PostgreSQL
 * produces batch n+1 while the caller formats batch n (a plain for-await leaves the server idle
 * during formatting and the client idle during fetching). At most one batch is in flight.
 */
async function* prefetched<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = iterator.next();
      yield current.value;
    }
  } finally {
    // An early exit (an error downstream, a cancelled download) closes the cursor.
    await next.catch(() => undefined);
    await iterator.return?.();
  }
}
