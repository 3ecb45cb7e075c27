import { createHash } from 'node:crypto';
import { and, eq, inArray, sql as dsql } from 'drizzle-orm';
import type { TDbHandle } from '@/db/client';
import { datasetVersions, projects, users } from '@/db/schema';
import type { TArtifactStore } from '../artifacts/store';
import { canonicalJson } from '../content/hash';
import type { TSelectedPair } from '../exports/preference-pairs';
import { annotatorsBelowGold, countCandidateJudgments, pairFilter, selectProjectPairs, type TDropReason } from './select';
import { ZDatasetSpec, type TDatasetSpec } from './spec';
import { splitOfPrompt, type TSplit } from './split';
import { dedupVersionPrompts, type TPromptDedup } from './prompt-dedup';
import { newStatistics, type TVersionStatistics } from './statistics';
import { versionKeys, type TCanonicalLine, type TVersionManifest } from './version-files';

export type TDatasetVersion = typeof datasetVersions.$inferSelect;

/** Raised inside a build when the version was cancelled meanwhile. */
class BuildCancelled extends Error {}

const PROGRESS_EVERY_MS = 500;
/** A running build renews its heartbeat at least this often (seconds) while it works. */
const STALE_AFTER_S = 120;

/**
 * Builds a queued dataset version: selects the pairs its spec asks for, splits them by prompt,
 * writes the canonical pairs file and the manifest to the artifact store, records lineage, and
 * marks the version succeeded with its content hash. A version that already succeeded is
 * never rebuilt (versions are immutable); a retried failed build starts over cleanly.
 */
export async function buildDatasetVersion(handle: TDbHandle, store: TArtifactStore, versionId: number, options: { takeOver?: boolean } = {}): Promise<TDatasetVersion | null> {
  const { db, sql } = handle;
  // Claim the version: queued, failed (a retry), or running with a stale heartbeat (its worker died).
  const [version] = await db
    .update(datasetVersions)
    .set({ status: 'running', startedAt: dsql`now()`, heartbeatAt: dsql`now()`, error: null, progressDone: 0 })
    .where(
      and(
        eq(datasetVersions.id, versionId),
        dsql`(${datasetVersions.status} in ('queued', 'failed')
          or (${datasetVersions.status} = 'running' and (${options.takeOver ?? false} or ${datasetVersions.heartbeatAt} < now() - make_interval(secs => ${STALE_AFTER_S}))))`,
      ),
    )
    .returning();
  if (!version) return (await db.select().from(datasetVersions).where(eq(datasetVersions.id, versionId)))[0] ?? null;
  await sql`delete from dataset_version_judgments where version_id = ${versionId}`;
  try {
    const manifest = await writeVersion(handle, store, version);
    const [done] = await db
      .update(datasetVersions)
      .set({
        status: 'succeeded',
        manifest: manifest as unknown as Record<string, unknown>,
        contentHash: manifest.contentHash,
        artifactPrefix: versionKeys(versionId).prefix,
        progressDone: dsql`coalesce(${datasetVersions.progressTotal}, ${datasetVersions.progressDone})`,
        finishedAt: dsql`now()`,
      })
      // A cancel that arrived after the last progress check wins: the files stay unreferenced.
      .where(and(eq(datasetVersions.id, versionId), eq(datasetVersions.status, 'running')))
      .returning();
    return done ?? (await db.select().from(datasetVersions).where(eq(datasetVersions.id, versionId)))[0] ?? null;
  } catch (error) {
    await sql`delete from dataset_version_judgments where version_id = ${versionId}`;
    const cancelled = error instanceof BuildCancelled;
    const [ended] = await db
      .update(datasetVersions)
      .set({ status: cancelled ? 'cancelled' : 'failed', error: cancelled ? null : (error as Error).message, finishedAt: dsql`now()` })
      .where(eq(datasetVersions.id, versionId))
      .returning();
    return ended ?? null;
  }
}

async function writeVersion(handle: TDbHandle, store: TArtifactStore, version: TDatasetVersion): Promise<TVersionManifest> {
  const { db, sql } = handle;
  const spec: TDatasetSpec = ZDatasetSpec.parse(version.spec);
  const sources = await db.select({ id: projects.id, slug: projects.slug, name: projects.name }).from(projects).where(inArray(projects.slug, spec.projects));
  const missing = spec.projects.filter((slug) => !sources.some((p) => p.slug === slug));
  if (missing.length > 0) throw new Error(`no project with slug ${missing.join(', ')}`);
  sources.sort((a, b) => a.id - b.id);

  const excluded = new Map<number, number[]>();
  let total = 0;
  for (const project of sources) {
    excluded.set(project.id, await annotatorsBelowGold(db, project.id, spec));
    total += await countCandidateJudgments(sql, project.id, spec, excluded.get(project.id)!);
  }
  await db.update(datasetVersions).set({ progressTotal: total }).where(eq(datasetVersions.id, version.id));

  const keys = versionKeys(version.id);
  const statistics = newStatistics();
  const dropped: Record<TDropReason, number> = { strength: 0, unrated: 0, model: 0, dedup: 0 };
  const judgmentIds = new Set<number>();
  const hash = createHash('sha256').update(canonicalJson(spec));
  let judgmentsSeen = 0;
  let lastJudgment = -1;
  let lastReport = Date.now();
  const keep = pairFilter(spec);

  const reportProgress = async () => {
    lastReport = Date.now();
    const [row] = await db
      .update(datasetVersions)
      .set({ progressDone: Math.min(judgmentsSeen, total), heartbeatAt: dsql`now()` })
      .where(eq(datasetVersions.id, version.id))
      .returning({ status: datasetVersions.status });
    if (row?.status === 'cancelled') throw new BuildCancelled();
  };
  // The dedup pass embeds every prompt first: it reports too, so the heartbeat stays fresh.
  let pending: Promise<void> | null = null;
  let stopped: unknown = null;
  const abort = new AbortController();
  const dedup: TPromptDedup = await dedupVersionPrompts(sql, sources, spec, excluded, {
    signal: abort.signal,
    onProgress: () => {
      if (pending || Date.now() - lastReport < PROGRESS_EVERY_MS) return;
      pending = reportProgress()
        .catch((error: unknown) => {
          stopped = error;
          abort.abort();
        })
        .finally(() => (pending = null));
    },
  }).catch((error: unknown) => {
    throw stopped ?? error;
  });
  await pending;
  if (stopped) throw stopped;

  async function* canonicalLines(): AsyncGenerator<string> {
    for (const project of sources) {
      for await (const pairs of selectProjectPairs(sql, project.id, spec, { excludeAnnotators: excluded.get(project.id)! })) {
        let chunk = '';
        const lineage: number[] = [];
        for (const pair of pairs) {
          const id = pair.metadata.judgment_id;
          if (id !== lastJudgment) {
            judgmentsSeen += 1;
            lastJudgment = id;
          }
          const reason = dedup.droppedHashes.has(pair.promptHash) ? 'dedup' : keep(pair);
          if (reason) {
            dropped[reason] += 1;
            continue;
          }
          const split: TSplit = splitOfPrompt(pair.promptHash, spec.splitSeed, spec.testFraction);
          statistics.add(pair, split, project.slug);
          if (!judgmentIds.has(id)) {
            judgmentIds.add(id);
            lineage.push(id);
          }
          chunk += JSON.stringify(toCanonicalLine(pair, split, project.slug)) + '\n';
        }
        if (lineage.length > 0) {
          await sql`insert into dataset_version_judgments (version_id, judgment_id)
            select ${version.id}, unnest(${lineage}::bigint[]) on conflict do nothing`;
        }
        if (Date.now() - lastReport >= PROGRESS_EVERY_MS) await reportProgress();
        if (chunk) {
          hash.update(chunk);
          yield chunk;
        }
      }
    }
  }

  const pairsFile = await store.write(keys.pairs, canonicalLines());
  await reportProgress();
  const dedupFile = await store.write(keys.dedupReport, dedup.reportLines());
  const contentHash = hash.digest('hex');

  const [builder] = version.createdBy
    ? await db.select({ id: users.id, email: users.email, name: users.name }).from(users).where(eq(users.id, version.createdBy))
    : [];
  const manifest: TVersionManifest = {
    id: version.id,
    name: version.name,
    spec,
    contentHash,
    counts: finalCounts(statistics, judgmentIds.size),
    dropped: { ...dropped, dedup: dropped.dedup, dedupPrompts: dedup.droppedHashes.size },
    statistics: statistics.summary(),
    files: [
      { key: keys.pairs, bytes: pairsFile.bytes, description: 'canonical pairs: one JSON object a line with split, prompt, chosen, rejected, metadata' },
      { key: keys.dedupReport, bytes: dedupFile.bytes, description: 'prompts dropped by semantic dedup, with their nearest kept prompt and the similarity' },
    ],
    lineage: {
      projects: sources,
      judgments: judgmentIds.size,
      judgmentTable: 'dataset_version_judgments',
    },
    builtBy: builder ?? null,
    requestedAt: version.createdAt.toISOString(),
    builtAt: new Date().toISOString(),
  };
  await store.write(keys.manifest, (async function* () {
    yield JSON.stringify(manifest, null, 2) + '\n';
  })());
  return manifest;
}

function finalCounts(statistics: TVersionStatistics, judgments: number): TVersionManifest['counts'] {
  return { ...statistics.counts(), judgments };
}

function toCanonicalLine(pair: TSelectedPair, split: TSplit, project: string): TCanonicalLine {
  return { split, prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected, metadata: { ...pair.metadata, project, prompt_hash: pair.promptHash } };
}
