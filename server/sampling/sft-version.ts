import { createHash } from 'node:crypto';
import { eq, sql as dsql } from 'drizzle-orm';
import type { TDbHandle } from '@/db/client';
import { datasetVersions, runs, type TMessage } from '@/db/schema';
import type { TArtifactStore } from '../artifacts/store';
import { canonicalJson } from '../content/hash';
import { versionKeys } from '../datasets/version-files';
import type { TSftLine } from '../exports/sft';
import { owned, RunCancelled, RunLost, type TRunRow } from '../runs/run-state';
import type { TRejectionSamplingSpec } from './schemas';

/** What rejection sampling keeps per prompt in run_items.result. */
export interface TRejectionItem {
  k: number;
  best: { index: number; score: number; message: TMessage; systemPrompt: number | null; finishReason: string | null };
  /** Every sample's score, in sample order; `content` only with keepSamples. */
  samples: { index: number; score: number; systemPrompt: number | null; finishReason: string | null; chars: number; content?: TMessage }[];
}

export interface TScoreSummary {
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
}

export interface TModelLineage {
  id: number;
  name: string;
  apiModel: string;
  serving: string;
  artifactUri: string | null;
}

/** manifest.json of an SFT version. */
export interface TSftVersionManifest {
  id: number;
  name: string;
  kind: 'sft';
  spec: TRejectionSamplingSpec;
  contentHash: string;
  counts: { conversations: number; prompts: number; samples: number; train: number; test: number };
  scores: { best: TScoreSummary; all: TScoreSummary };
  files: { key: string; bytes: number; description: string }[];
  lineage: {
    run: { id: number; kind: string; roundId: number | null; attempt: number };
    policyModel: TModelLineage;
    rewardModel: TModelLineage;
    sourcePrompts: { selection: TRejectionSamplingSpec['prompts']; projects: { id: number; slug: string; name: string; prompts: number }[]; runItemTable: 'run_items' };
  };
  builtAt: string;
}

function summary(): { add(x: number): void; value(): TScoreSummary } {
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  return {
    add(x) {
      count += 1;
      sum += x;
      if (x < min) min = x;
      if (x > max) max = x;
    },
    value: () => (count === 0 ? { count, mean: null, min: null, max: null } : { count, mean: sum / count, min, max }),
  };
}

/**
 * The run's output as an SFT dataset version: `datasets/<id>/sft.jsonl` (`{"messages": [...prompt,
 * best]}` per prompt, in prompt id order) and manifest.json (counts, score statistics, the spec,
 * the content hash, lineage). The version row is created and linked to the run first, so a
 * retry after a crash rewrites the same version instead of leaving an orphan; the version and
 * the run succeed together in one transaction, unless a cancel arrived meanwhile.
 */
export async function finishWithSftVersion(
  handle: TDbHandle,
  store: TArtifactStore,
  run: TRunRow,
  input: { spec: TRejectionSamplingSpec; policy: TModelLineage; reward: TModelLineage; metrics: Record<string, unknown> },
): Promise<TRunRow> {
  const { db, sql } = handle;
  const name = input.spec.versionName ?? `rejection sampling, run ${run.id}`;
  const sources = await sql<{ id: string; slug: string; name: string; prompts: number }[]>`
    select pr.id, pr.slug, pr.name, count(*)::int as prompts
    from run_items ri join prompts p on p.id = ri.prompt_id join projects pr on pr.id = p.project_id
    where ri.run_id = ${run.id} group by pr.id order by pr.id`;
  const projects = sources.map((s) => ({ id: Number(s.id), slug: s.slug, name: s.name, prompts: s.prompts }));

  const versionId = await sql.begin(async (tx) => {
    const [current] = await tx<{ output_version_id: string | null; external_id: string | null; status: string }[]>`
      select output_version_id, external_id, status from runs where id = ${run.id} for update`;
    if (!current || current.external_id !== run.externalId || current.status !== 'running') throw new RunLost();
    let id = current.output_version_id === null ? null : Number(current.output_version_id);
    if (id === null) {
      const [row] = await tx<{ id: string }[]>`
        insert into dataset_versions (name, kind, spec, status, started_at, heartbeat_at)
        values (${name}, 'sft', ${JSON.stringify(input.spec)}::jsonb, 'running', now(), now()) returning id`;
      id = Number(row!.id);
      await tx`update runs set output_version_id = ${id} where id = ${run.id}`;
    } else {
      await tx`update dataset_versions set status = 'running', error = null, heartbeat_at = now() where id = ${id} and status <> 'succeeded'`;
    }
    await tx`delete from dataset_version_projects where version_id = ${id}`;
    if (projects.length > 0) {
      await tx`insert into dataset_version_projects (version_id, project_id) select ${id}, unnest(${projects.map((p) => p.id)}::bigint[])`;
    }
    return id;
  });

  const [existing] = await db.select({ status: datasetVersions.status }).from(datasetVersions).where(eq(datasetVersions.id, versionId));
  const keys = versionKeys(versionId);
  let manifest: TSftVersionManifest | null = null;
  if (existing?.status !== 'succeeded') {
    const hash = createHash('sha256').update(canonicalJson(input.spec));
    const best = summary();
    const all = summary();
    let conversations = 0;
    async function* lines(): AsyncGenerator<string> {
      const cursor = sql<{ messages: TMessage[]; result: TRejectionItem }[]>`
        select p.messages, ri.result from run_items ri join prompts p on p.id = ri.prompt_id
        where ri.run_id = ${run.id} order by ri.prompt_id`.cursor(500);
      for await (const rows of cursor) {
        let chunk = '';
        for (const row of rows) {
          best.add(row.result.best.score);
          for (const sample of row.result.samples) all.add(sample.score);
          chunk += JSON.stringify({ messages: [...row.messages, row.result.best.message] } satisfies TSftLine) + '\n';
          conversations += 1;
        }
        hash.update(chunk);
        yield chunk;
      }
    }
    const file = await store.write(keys.sft, lines());
    manifest = {
      id: versionId,
      name,
      kind: 'sft',
      spec: input.spec,
      contentHash: hash.digest('hex'),
      counts: { conversations, prompts: conversations, samples: all.value().count, train: conversations, test: 0 },
      scores: { best: best.value(), all: all.value() },
      files: [{ key: keys.sft, bytes: file.bytes, description: 'SFT conversations: {"messages": [...prompt, best response]} a line, one per prompt, all train data' }],
      lineage: {
        run: { id: run.id, kind: run.kind, roundId: run.roundId, attempt: run.attempt },
        policyModel: input.policy,
        rewardModel: input.reward,
        sourcePrompts: { selection: input.spec.prompts, projects, runItemTable: 'run_items' },
      },
      builtAt: new Date().toISOString(),
    };
    const manifestText = JSON.stringify(manifest, null, 2) + '\n';
    await store.write(keys.manifest, (async function* () {
      yield manifestText;
    })());
  }

  return db.transaction(async (tx) => {
    const [locked] = await tx
      .select({ cancelRequested: runs.cancelRequested, externalId: runs.externalId, status: runs.status })
      .from(runs)
      .where(eq(runs.id, run.id))
      .for('update');
    if (!locked || locked.externalId !== run.externalId || locked.status !== 'running') throw new RunLost();
    // A cancel that arrived after the last progress check wins: the files stay unreferenced by a succeeded version.
    if (locked.cancelRequested) throw new RunCancelled();
    if (manifest) {
      await tx
        .update(datasetVersions)
        .set({
          status: 'succeeded',
          manifest: manifest as unknown as Record<string, unknown>,
          contentHash: manifest.contentHash,
          artifactPrefix: keys.prefix,
          progressDone: manifest.counts.conversations,
          progressTotal: manifest.counts.conversations,
          finishedAt: dsql`now()`,
          heartbeatAt: dsql`now()`,
        })
        .where(eq(datasetVersions.id, versionId));
    }
    const metrics = { ...input.metrics, ...(manifest ? { scores: manifest.scores, conversations: manifest.counts.conversations } : {}) };
    const [done] = await tx
      .update(runs)
      .set({ status: 'succeeded', finishedAt: dsql`now()`, heartbeatAt: dsql`now()`, progressDone: dsql`coalesce(${runs.progressTotal}, ${runs.progressDone})`, metrics, error: null })
      .where(owned(run))
      .returning();
    return done!;
  });
}
