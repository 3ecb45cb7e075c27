import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localArtifactStore } from '@/server/artifacts/store';
import { buildDatasetVersion } from '@/server/datasets/build-version';
import { readCanonicalLines, streamVersionExport, type TCanonicalLine, type TVersionFormat, type TVersionManifest } from '@/server/datasets/version-files';
import type { TDatasetSpecInput } from '@/server/datasets/spec';
import { markGold } from '@/server/quality/gold';
import type { TProject } from '@/server/projects/projects';
import { makeTinyEmbeddingModel } from '../fixtures/make-tiny-embedding-model';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { collect, readWithHyparquet } from '../helpers/parquet-read';
import { castVote, comparisonId } from '../helpers/votes';

const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-embed-'));
makeTinyEmbeddingModel(modelDir);
process.env.PAIRWISE_EMBEDDING_MODEL = modelDir;

const db = setupTestDatabase();
const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-datasets-'));
const store = localArtifactStore(artifacts);

afterAll(async () => {
  await stopSharedQueue();
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.rmSync(modelDir, { recursive: true, force: true });
});

async function build(admin: Awaited<ReturnType<typeof makeUser>>, name: string, spec: TDatasetSpecInput) {
  const caller = callerFor(db.current.handle, db.current.url, admin, artifacts);
  const requested = await caller.datasets.build({ name, spec });
  expect(requested.status).toBe('queued');
  const built = await buildDatasetVersion(db.current.handle, store, requested.id);
  expect(built?.error ?? null).toBeNull();
  expect(built?.status).toBe('succeeded');
  return { version: built!, manifest: built!.manifest as unknown as TVersionManifest };
}

/** A tRPC call refused with `code` and a message matching `message`. */
async function expectAppError(call: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const error = await call.then(
    () => null,
    (e: unknown) => e as { code?: string; message?: string },
  );
  expect(error, 'expected the call to be refused').not.toBeNull();
  expect(error!.code).toBe(code);
  expect(error!.message).toMatch(message);
}

async function lines(versionId: number, split: 'train' | 'test' | 'all' = 'all'): Promise<TCanonicalLine[]> {
  const out: TCanonicalLine[] = [];
  for await (const line of readCanonicalLines(store, versionId, split)) out.push(line);
  return out;
}

async function exported(versionId: number, format: TVersionFormat): Promise<unknown[]> {
  let text = '';
  for await (const chunk of streamVersionExport(store, versionId, { format, split: 'all' })) text += chunk;
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
}

/** A project with comparisons c-0..c-5 judged once each with the given strengths (c-i: strengths[i]). */
async function judgedProject(strengths: Parameters<typeof castVote>[5][]): Promise<{ project: TProject; annotator: Awaited<ReturnType<typeof makeUser>> }> {
  const { handle } = db.current;
  const annotator = await makeUser(handle);
  const project = await makeProject(handle);
  await importLines(handle, project, comparisonLines(strengths.length));
  for (const [i, strength] of strengths.entries()) await castVote(handle, project, annotator, `c-${i}`, (i % 2) as 0 | 1, strength);
  return { project, annotator };
}

describe('dataset versions', () => {
  it('keep significantly better and better pairs by default, and record counts, lineage and files', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const { project } = await judgedProject(['significantly_better', 'better', 'slightly_better', 'marginally_better', 'better', 'better']);
    // c-4 becomes a gold item and c-5 gets flagged: both are left out by default.
    await markGold(handle.db, { projectId: project.id, comparisonId: await comparisonId(handle, project, 'c-4'), choice: 0 });
    await handle.sql`update judgments set flags = '{unsafe}' where comparison_id = ${await comparisonId(handle, project, 'c-5')}`;

    const { version, manifest } = await build(admin, 'rm round 1', { projects: [project.slug], testFraction: 0 });
    const got = await lines(version.id);
    expect(got.map((l) => l.prompt[0]!.content).sort()).toEqual([`prompt c 0`, `prompt c 1`]);
    expect(got.every((l) => l.split === 'train')).toBe(true);
    expect(got[0]!.metadata).toMatchObject({ project: project.slug, strength: 'significantly_better', relation: 'chosen>rejected' });
    expect(manifest.counts).toMatchObject({ pairs: 2, train: 2, test: 0, judgments: 2, prompts: 2 });
    expect(manifest.dropped).toMatchObject({ strength: 2 });
    expect(manifest.statistics.byStrength).toEqual({ significantly_better: 1, better: 1 });
    expect(manifest.lineage.projects).toEqual([{ id: project.id, slug: project.slug, name: project.name }]);
    expect(manifest.builtBy?.id).toBe(admin.id);
    expect(version.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(version.progressDone).toBe(version.progressTotal);
    const [lineage] = await handle.sql<{ n: number }[]>`select count(*)::int as n from dataset_version_judgments where version_id = ${version.id}`;
    expect(lineage!.n).toBe(2);
    expect(JSON.parse(fs.readFileSync(path.join(artifacts, `datasets/${version.id}/manifest.json`), 'utf8'))).toMatchObject({ contentHash: version.contentHash });

    // Looser filters keep more: every strength, flagged and gold judgments included.
    const loose = await build(admin, 'everything', { projects: [project.slug], minStrength: null, dropSimilar: 'none', dropFlagged: false, dropGold: false });
    expect(loose.manifest.counts.pairs).toBe(6);
  });

  it('give the same hash for the same spec over the same data, and never change once built', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const { project, annotator } = await judgedProject(['better', 'better', 'better']);
    const first = await build(admin, 'a', { projects: [project.slug] });
    const again = await build(admin, 'b, same spec', { projects: [project.slug], minStrength: 'better' });
    expect(again.version.contentHash).toBe(first.version.contentHash);
    const before = fs.readFileSync(path.join(artifacts, `datasets/${first.version.id}/pairs.jsonl`), 'utf8');

    await importLines(handle, project, comparisonLines(1, 'new'));
    await castVote(handle, project, annotator, 'new-0', 0, 'significantly_better');
    const later = await build(admin, 'c', { projects: [project.slug] });
    expect(later.version.contentHash).not.toBe(first.version.contentHash);
    expect(later.manifest.counts.pairs).toBe(4);
    expect(fs.readFileSync(path.join(artifacts, `datasets/${first.version.id}/pairs.jsonl`), 'utf8')).toBe(before);
    // A built version is immutable: building it again changes nothing.
    expect((await buildDatasetVersion(handle, store, first.version.id))?.contentHash).toBe(first.version.contentHash);
  });

  it('split by prompt, deterministically, with no prompt in both splits', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const project = await makeProject(handle, { judgmentsRequired: 2 });
    await importLines(handle, project, comparisonLines(40));
    const [a, b] = [await makeUser(handle), await makeUser(handle)];
    for (let i = 0; i < 40; i++) {
      await castVote(handle, project, a, `c-${i}`, 0, 'better');
      await castVote(handle, project, b, `c-${i}`, 1, 'significantly_better');
    }
    const { version, manifest } = await build(admin, 'split', { projects: [project.slug], testFraction: 0.3, splitSeed: 's1' });
    const all = await lines(version.id);
    const train = new Set(all.filter((l) => l.split === 'train').map((l) => l.metadata.prompt_hash));
    const test = new Set(all.filter((l) => l.split === 'test').map((l) => l.metadata.prompt_hash));
    expect([...test].filter((h) => train.has(h))).toEqual([]);
    expect(test.size).toBeGreaterThan(3);
    expect(test.size).toBeLessThan(25);
    expect(manifest.counts).toMatchObject({ pairs: 80, trainPrompts: train.size, testPrompts: test.size });
    expect((await lines(version.id, 'test')).length).toBe(manifest.counts.test);
    const again = await build(admin, 'split again', { projects: [project.slug], testFraction: 0.3, splitSeed: 's1' });
    expect(again.version.contentHash).toBe(version.contentHash);
    const reseeded = await build(admin, 'other seed', { projects: [project.slug], testFraction: 0.3, splitSeed: 's2' });
    expect(reseeded.version.contentHash).not.toBe(version.contentHash);
  });

  it('aggregate by consensus: one pair per comparison with the majority, ties give none', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const project = await makeProject(handle, { judgmentsRequired: 3 });
    await importLines(handle, project, comparisonLines(2));
    const voters = [await makeUser(handle), await makeUser(handle), await makeUser(handle)];
    // c-0: 2 votes for the second response, 1 for the first. c-1: one each (a tie) after a flagged third vote is dropped.
    await castVote(handle, project, voters[0]!, 'c-0', 1, 'significantly_better');
    await castVote(handle, project, voters[1]!, 'c-0', 1, 'better');
    await castVote(handle, project, voters[2]!, 'c-0', 0, 'significantly_better');
    await castVote(handle, project, voters[0]!, 'c-1', 1, 'better');
    await castVote(handle, project, voters[1]!, 'c-1', 0, 'better');
    await castVote(handle, project, voters[2]!, 'c-1', 0, 'better', { flags: ['unsafe'] });

    const { version, manifest } = await build(admin, 'consensus', { projects: [project.slug], aggregation: 'consensus', testFraction: 0 });
    const got = await lines(version.id);
    expect(got).toHaveLength(1);
    expect(got[0]!.chosen[0]!.content).toBe('answer c 0 from m2');
    // The weaker middle of the majority's strengths (significantly better, better).
    expect(got[0]!.metadata.strength).toBe('better');
    expect(manifest.counts.judgments).toBe(1);

    const all = await build(admin, 'every judgment', { projects: [project.slug], aggregation: 'all', testFraction: 0 });
    expect(all.manifest.counts.pairs).toBe(5);
  });

  it('drop semantically similar prompts and report each with its nearest kept prompt', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    const prompts = ['write a poem about the blue sky', 'write a poem about the blue sky please', 'explain python code to a child'];
    await importLines(
      handle,
      project,
      prompts.map((prompt, i) => JSON.stringify({ id: `c-${i}`, prompt, responses: [{ content: `one ${i}` }, { content: `two ${i}` }] })),
    );
    for (let i = 0; i < prompts.length; i++) await castVote(handle, project, annotator, `c-${i}`, 0, 'better');
    const { version, manifest } = await build(admin, 'dedup', { projects: [project.slug], dedupThreshold: 0.9, testFraction: 0 });
    expect((await lines(version.id)).map((l) => l.prompt[0]!.content)).toEqual([prompts[0], prompts[2]]);
    expect(manifest.dropped).toMatchObject({ dedup: 1, dedupPrompts: 1 });
    const report = fs.readFileSync(path.join(artifacts, `datasets/${version.id}/dedup-report.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(report).toHaveLength(1);
    expect(report[0]).toMatchObject({ prompt: prompts[1], nearest_prompt: prompts[0] });
    expect(report[0]!.similarity).toBeGreaterThanOrEqual(0.9);
  });

  it('export a version in every format; an empty selection gives an empty version', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const { project } = await judgedProject(['better', 'significantly_better']);
    const { version } = await build(admin, 'formats', { projects: [project.slug], testFraction: 0 });
    const trl = (await exported(version.id, 'trl')) as TCanonicalLine[];
    expect(trl).toHaveLength(2);
    expect(Object.keys(trl[0]!)).toEqual(['prompt', 'chosen', 'rejected', 'metadata']);
    expect(await exported(version.id, 'trl-implicit')).toEqual(trl.map((l) => ({ chosen: [...l.prompt, ...l.chosen], rejected: [...l.prompt, ...l.rejected] })));
    expect(await exported(version.id, 'sft')).toEqual(trl.map((l) => ({ messages: [...l.prompt, ...l.chosen] })));
    expect(((await exported(version.id, 'hh-rlhf')) as { chosen: string }[])[0]!.chosen).toMatch(/^\n\nHuman: prompt c 0\n\nAssistant: answer c 0 from m/);
    expect(((await exported(version.id, 'openai')) as { preferred_output: unknown }[])[0]!.preferred_output).toEqual(trl[0]!.chosen);

    // Parquet messages are JSON values: each message exactly as in the JSON lines, no null fields.
    const parquet = await readWithHyparquet(await collect(streamVersionExport(store, version.id, { format: 'parquet', split: 'all' })));
    expect(parquet.rows.map((row) => [row.prompt, row.chosen, row.rejected])).toEqual(trl.map((l) => [l.prompt, l.chosen, l.rejected]));
    expect(parquet.rows.map((row) => row.judgment_id)).toEqual(trl.map((l) => BigInt(l.metadata.judgment_id)));

    const empty = await build(admin, 'nothing', { projects: [project.slug], minStrength: 'significantly_better', dropSimilar: 'none', models: ['no-such-model'] });
    expect(empty.manifest.counts.pairs).toBe(0);
    expect(await exported(empty.version.id, 'trl')).toEqual([]);
    expect((await readWithHyparquet(await collect(streamVersionExport(store, empty.version.id, { format: 'parquet', split: 'all' })))).rows).toEqual([]);
  });

  it('refuse bad specs with the field, and hide versions from non-admins of their projects', async () => {
    const { handle, url } = db.current;
    const admin = await makeUser(handle, 'admin');
    const outsider = await makeUser(handle);
    const project = await makeProject(handle);
    const asAdmin = callerFor(handle, url, admin, artifacts);
    await expectAppError(asAdmin.datasets.build({ name: 'x', spec: { projects: [project.slug], testFraction: 0.9 } }), 'BAD_REQUEST', /testFraction/);
    await expectAppError(asAdmin.datasets.build({ name: 'x', spec: { projects: ['nope'] } }), 'NOT_FOUND', /nope/);
    const asOutsider = callerFor(handle, url, outsider, artifacts);
    await expectAppError(asOutsider.datasets.build({ name: 'x', spec: { projects: [project.slug] } }), 'NOT_FOUND', new RegExp(project.slug));
    const { version } = await build(admin, 'private', { projects: [project.slug] });
    await expectAppError(asOutsider.datasets.get({ version: version.id }), 'NOT_FOUND', /dataset version/);
    expect((await asOutsider.datasets.list({})).map((v) => v.id)).not.toContain(version.id);
    expect((await asAdmin.datasets.list({})).map((v) => v.id)).toContain(version.id);
    // Listing by project: one the caller cannot see answers exactly as one that does not exist.
    const unknown = await rejectionOf(asOutsider.datasets.list({ project: 'no-such-project' }));
    const invisible = await rejectionOf(asOutsider.datasets.list({ project: project.slug }));
    expect(unknown).toMatchObject({ code: 'NOT_FOUND', message: 'no project with slug no-such-project' });
    expect(invisible).toMatchObject({ code: 'NOT_FOUND', message: `no project with slug ${project.slug}` });
    expect((await asAdmin.datasets.list({ project: project.slug })).map((v) => v.id)).toEqual([version.id]);
  });

  it('stop a cancelled build', async () => {
    const { handle, url } = db.current;
    const admin = await makeUser(handle, 'admin');
    const project = await makeProject(handle);
    const caller = callerFor(handle, url, admin, artifacts);
    const requested = await caller.datasets.build({ name: 'to cancel', spec: { projects: [project.slug] } });
    expect((await caller.datasets.cancel({ version: requested.id })).status).toBe('cancelled');
    expect((await buildDatasetVersion(handle, store, requested.id))?.status).toBe('cancelled');
    await expectAppError(caller.datasets.cancel({ version: requested.id }), 'CONFLICT', /cancelled/);
  });
});

/** What a call was refused with: its tRPC code and message. */
async function rejectionOf(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await call.then(
    () => null,
    (e: unknown) => e as { code: string; message: string },
  );
  if (!error) throw new Error('expected the call to be refused');
  return { code: error.code, message: error.message };
}
