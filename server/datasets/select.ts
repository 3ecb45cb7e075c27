import type postgres from 'postgres';
import { PgDialect } from 'drizzle-orm/pg-core';
import { sql as dsql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { streamPreferencePairs, type TSelectedPair } from '../exports/preference-pairs';
import { consensusVerdictsSql } from '../quality/consensus';
import { goldAccuracyByAnnotator } from '../quality/gold';
import { keptStrengths, type TDatasetSpec } from './spec';

/** Why a pair that the SQL selection gave was left out (counted in the manifest). */
export type TDropReason = 'strength' | 'unrated' | 'model' | 'dedup';

/**
 * Judgment-level conditions of a spec, on `j` (judgment) and `c` (comparison): the ones SQL
 * can decide before any pair is expanded.
 */
export function judgmentConditions(sql: postgres.Sql, spec: TDatasetSpec) {
  return sql`true
    ${spec.dropFlagged ? sql`and cardinality(j.flags) = 0` : sql``}
    ${spec.dropGold ? sql`and c.gold_choice is null` : sql``}
    ${spec.from ? sql`and j.created_at >= ${spec.from}::timestamptz` : sql``}
    ${spec.to ? sql`and j.created_at < ${spec.to}::timestamptz` : sql``}
    ${spec.rounds ? sql`and c.metadata->>'round' = any(${spec.rounds}::text[])` : sql``}`;
}

/** Annotators below the spec's gold accuracy in a project (those without gold answers stay). */
export async function annotatorsBelowGold(db: TDb, projectId: number, spec: TDatasetSpec): Promise<number[]> {
  if (spec.minGoldAccuracy === null) return [];
  const accuracy = await goldAccuracyByAnnotator(db, projectId);
  return accuracy.filter((a) => a.answered > 0 && a.accuracy < spec.minGoldAccuracy!).map((a) => a.annotatorId);
}

/** How many judgments of a project the SQL conditions let through: the build's progress total. */
export async function countCandidateJudgments(sql: postgres.Sql, projectId: number, spec: TDatasetSpec, excludeAnnotators: number[]): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from judgments j join comparisons c on c.id = j.comparison_id
    left join reviews rv on rv.judgment_id = j.id
    where j.project_id = ${projectId} and rv.decision is distinct from 'reject'
      and not (j.annotator_id = any(${excludeAnnotators}::bigint[])) and ${judgmentConditions(sql, spec)}`;
  return row?.n ?? 0;
}

/** The pair-level filter of a spec: null keeps the pair, else the reason it is dropped. */
export function pairFilter(spec: TDatasetSpec): (pair: TSelectedPair) => TDropReason | null {
  const strengths = new Set<string>(keptStrengths(spec));
  const models = spec.models ? new Set(spec.models) : null;
  const modelOk = (model: string | null, origin: string) => origin !== 'model' || (model !== null && models!.has(model));
  return (pair) => {
    const { strength } = pair.metadata;
    if (strength === null) {
      if (!spec.keepUnrated) return 'unrated';
    } else if (!strengths.has(strength)) return 'strength';
    if (models && !(modelOk(pair.metadata.chosen_model, pair.metadata.chosen_origin) && modelOk(pair.metadata.rejected_model, pair.metadata.rejected_origin))) {
      return 'model';
    }
    return null;
  };
}

const dialect = new PgDialect();

/**
 * The pairs of one project that a spec selects at the SQL level, in judgment order. Runs on a
 * reserved connection: consensus mode first writes the verdicts (voted on by the judgments the
 * spec keeps) into a temporary table that the pair query joins.
 */
export async function* selectProjectPairs(
  sql: postgres.Sql,
  projectId: number,
  spec: TDatasetSpec,
  options: { excludeAnnotators: number[]; batchSize?: number },
): AsyncGenerator<TSelectedPair[]> {
  const reserved = await sql.reserve();
  const table = `dataset_consensus_${projectId}`;
  try {
    if (spec.aggregation === 'consensus') {
      await reserved.unsafe(`drop table if exists pg_temp.${table}`);
      await reserved`create temp table ${reserved(`dataset_voters_${projectId}`)} on commit preserve rows as
        select j.id from judgments j join comparisons c on c.id = j.comparison_id
        where j.project_id = ${projectId} and not (j.annotator_id = any(${options.excludeAnnotators}::bigint[]))
          and ${judgmentConditions(reserved, spec)}`;
      const verdicts = dialect.sqlToQuery(consensusVerdictsSql(projectId, dsql.raw(`j.id in (select id from pg_temp.dataset_voters_${projectId})`)));
      await reserved.unsafe(`create temp table ${table} as select comparison_id, choice, strength from (${verdicts.sql}) v`, verdicts.params as never[]);
    }
    yield* streamPreferencePairs(reserved, projectId, {
      batchSize: options.batchSize,
      excludeAnnotators: options.excludeAnnotators,
      expansion: spec.expansion,
      where: judgmentConditions(reserved, spec),
      consensusTable: spec.aggregation === 'consensus' ? table : undefined,
    });
  } finally {
    if (spec.aggregation === 'consensus') {
      await reserved.unsafe(`drop table if exists pg_temp.${table}; drop table if exists pg_temp.dataset_voters_${projectId}`).catch(() => {});
    }
    reserved.release();
  }
}
