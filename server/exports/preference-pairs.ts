import type postgres from 'postgres';
import type { TMessage } from '@/db/schema';
import type { TStrength } from '../annotation/strengths';
import { MAX_RESPONSES } from '../imports/schemas';

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
    /** Imported labels: the format and file they came from ("trl:pairs.jsonl"); null for judgments made in Pairwise. */
    source: string | null;
  };
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

// Judgments a reviewer rejected are left out; corrections are applied in the line expressions.
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
  ${sql.unsafe(derivedColumns)}
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

/**
 * The derived values of each pair row, computed once (lateral): ranks without the edit's place
 * (a ranking's own strengths and names use them), whether the row is the judgment's own
 * chosen/rejected pair, and whether a reviewer's correction flips that pair.
 */
const derivedColumns = `cross join lateral (
    select hi.rank - (j.edited_response_id is not null)::int as hi, lo.rank - (j.edited_response_id is not null)::int as lo,
      j.edited_response_id is not null as has_edit, j.chosen_position is not null as is_pair,
      (hi.response_id = j.chosen_response_id and lo.response_id = j.rejected_response_id) as choice_pair
  ) d
  cross join lateral (
    select d.choice_pair and rv.decision = 'correct' as corrected,
      d.choice_pair and rv.decision = 'correct' and rv.corrected_choice is distinct from xc.position as flip
  ) e`;

/**
 * The strength of a pair: for the chosen/rejected of a pair judgment, the judgment's strength
 * (a reviewer's corrected one, or the consensus in consensus mode); between two ranks of a
 * ranking, the strongest of the adjacent strengths it spans (a response ranked two places lower
 * is at least as far behind as the largest single step; the enum is ordered strongest first).
 * Pairs that involve an edit have none: the annotator rated the original choice, not the rewrite.
 */
function strengthExpression(consensus: boolean): string {
  return `case
    ${consensus ? `when d.is_pair and d.choice_pair then k.strength` : ''}
    when e.corrected then rv.corrected_strength
    when d.hi < 1 then null
    when d.is_pair then case when d.hi = 1 and d.lo = 2 then j.strength end
    else least(${spannedStrengths}) end`;
}

// The strengths between rank hi and rank lo: elements hi .. lo-1 of rank_strengths (at most 7,
// as a comparison holds at most 8 responses). LEAST skips nulls, so this is their minimum, the
// strongest, without a subquery: subqueries are parallel-restricted and kept the sort serial.
const spannedStrengths = Array.from({ length: MAX_RESPONSES - 1 }, (_, i) => `case when d.hi + ${i} < d.lo then j.rank_strengths[d.hi + ${i}] end`).join(', ');

/** 'edited>chosen', 'edited>rejected', 'chosen>rejected' for pairs; 'rank i>rank j' (or 'edited>rank j') for rankings. */
const relationExpression = `case
    when d.is_pair then (case when d.has_edit then array['edited', 'chosen', 'rejected'] else array['chosen', 'rejected'] end)[hi.rank]
      || '>' || (case when d.has_edit then array['edited', 'chosen', 'rejected'] else array['chosen', 'rejected'] end)[lo.rank]
    when d.has_edit and hi.rank = 1 then 'edited>rank ' || d.lo
    else 'rank ' || d.hi || '>rank ' || d.lo end`;

const chosenSide = (column: string) => `case when e.flip then rr.${column} else cr.${column} end`;
const rejectedSide = (column: string) => `case when e.flip then cr.${column} else rr.${column} end`;

/**
 * The pair's metadata. `typed` is the form of `trl` training lines (server/formats/typed-metadata.ts,
 * which this mirrors key for key): absent text is '' and an absent guidelines version 0, so
 * every key has one JSON type on every line.
 */
function metadataExpression(consensus: boolean, typed: boolean): string {
  const text = (expression: string) => (typed ? `coalesce((${expression})::text, '')` : expression);
  const number = (expression: string) => (typed ? `coalesce(${expression}, 0)` : expression);
  return `json_build_object('judgment_id', j.id, 'comparison_id', j.comparison_id, 'comparison_external_id', ${text('c.external_id')},
      'annotator_id', j.annotator_id, 'strength', ${text(strengthExpression(consensus))}, 'relation', ${relationExpression}, 'flags', j.flags,
      'chosen_model', ${text(chosenSide('model'))}, 'rejected_model', ${text(rejectedSide('model'))},
      'chosen_origin', ${chosenSide('origin')}, 'rejected_origin', ${rejectedSide('origin')},
      'guidelines_version', ${number('j.guidelines_version')}, 'review', ${text('rv.decision')}, 'source', ${text('j.source')})`;
}

/**
 * Lines PostgreSQL writes whole: `pair` is the whole pair with its metadata as stored (what
 * TPreferencePair parses from; every other format is written from it in TypeScript); `trl` and
 * `trl-implicit` are the training lines of those formats, exactly as formatPreferencePair writes
 * them (stored messages already carry only the keys they use: see content/schemas.ts), so the
 * largest exports need no parse or stringify in Node.
 */
export const sqlLineFormats = ['pair', 'trl', 'trl-implicit'] as const;
export type TSqlLineFormat = (typeof sqlLineFormats)[number];

function lineExpression(format: TSqlLineFormat, consensus: boolean): string {
  const chosen = chosenSide('messages');
  const rejected = rejectedSide('messages');
  switch (format) {
    case 'pair':
    case 'trl':
      return `json_build_object('prompt', p.messages, 'chosen', ${chosen}, 'rejected', ${rejected}, 'metadata', ${metadataExpression(consensus, format === 'trl')})`;
    case 'trl-implicit':
      return `json_build_object('chosen', p.messages || ${chosen}, 'rejected', p.messages || ${rejected})`;
  }
}

interface TLineRow {
  line: string;
  prompt_hash: string;
  unflagged: boolean;
  // Consensus mode only: what agreesWithConsensus needs.
  comparison_id?: string;
  is_pair?: boolean;
  choice_pair?: boolean;
  effective_choice?: number | null;
  consensus_choice?: number | null;
}

/** A line of a pair as JSON text, with the content hash of its prompt. */
export interface TPairLine {
  line: string;
  promptHash: string;
  /** The judgment has no flag (its `flags` list is empty). */
  unflagged: boolean;
}

/**
 * Every preference pair of a project, one JSON text line each in a SQL line format: a pair
 * judgment gives chosen>rejected, with an edit the triple edited>chosen, edited>rejected,
 * chosen>rejected; a ranking every ordered pair of different ranks. PostgreSQL builds the
 * lines (the whole mapping is SQL), read through a server-side cursor in judgment order; the
 * next batch is requested before the current one is handed out.
 */
export async function* streamPairLines(
  sql: postgres.Sql,
  projectId: number,
  format: TSqlLineFormat,
  options: { batchSize?: number } & TPairOptions = {},
): AsyncGenerator<TPairLine[]> {
  const consensus = Boolean(options.consensusTable);
  const consensusColumns = consensus
    ? sql`, j.comparison_id, d.is_pair, d.choice_pair, k.choice as consensus_choice,
        case when rv.decision = 'correct' then rv.corrected_choice else xc.position end as effective_choice`
    : sql``;
  // Comparisons whose chosen>rejected pair has been given already (consensus mode only).
  const given = new Set<number>();
  const cursor = sql<TLineRow[]>`
    select ${sql.unsafe(lineExpression(format, consensus))}::text as line, p.content_hash as prompt_hash, cardinality(j.flags) = 0 as unflagged ${consensusColumns}
    ${pairsQuery(sql, projectId, options)}
    order by j.id, hi.rank, lo.rank, hi.response_id, lo.response_id`.cursor(options.batchSize ?? 2000);
  for await (const rows of prefetched(cursor)) {
    const kept = consensus ? rows.filter((row) => agreesWithConsensus(row, given)) : rows;
    if (kept.length > 0) yield kept.map((row) => ({ line: row.line, promptHash: row.prompt_hash, unflagged: row.unflagged }));
  }
}

/** The pairs as objects, for every export format and for dataset builds. */
export async function* streamPreferencePairs(
  sql: postgres.Sql,
  projectId: number,
  options: { batchSize?: number } & TPairOptions = {},
): AsyncGenerator<TSelectedPair[]> {
  for await (const lines of streamPairLines(sql, projectId, 'pair', options)) {
    yield lines.map(({ line, promptHash }) => ({ ...(JSON.parse(line) as TPreferencePair), promptHash }));
  }
}

/**
 * Consensus mode (see TPairOptions.consensusTable): whether a pair row stays. Rows come in
 * judgment order, so "the first agreeing judgment" is the first one seen.
 */
function agreesWithConsensus(row: TLineRow, given: Set<number>): boolean {
  if (!row.is_pair) return true;
  if (row.consensus_choice === null || row.consensus_choice === undefined || row.effective_choice !== row.consensus_choice) return false;
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
