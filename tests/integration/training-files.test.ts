import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { buildOpenApiDocument, apiOperations } from '@/server/api-v1/openapi';
import { localArtifactStore } from '@/server/artifacts/store';
import { buildDatasetVersion } from '@/server/datasets/build-version';
import { ZVersionDownload } from '@/server/datasets/schemas';
import { readCanonicalLines, streamVersionExport, versionKeys, type TCanonicalLine, type TVersionFormat } from '@/server/datasets/version-files';
import { streamExport } from '@/server/exports/export-lines';
import type { TOpenAiSkip } from '@/server/formats/openai-preference';
import type { TExportFormat } from '@/server/formats/preference-formats';
import type { TProject } from '@/server/projects/projects';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { checkTrainingFile, datasetsPython } from '../helpers/python-datasets';
import { expectStableTrainingSchema, parseLines } from '../helpers/training-schema';
import { castVote } from '../helpers/votes';

const db = setupTestDatabase();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-training-files-'));
const artifacts = path.join(dir, 'artifacts');
const store = localArtifactStore(artifacts);
const python = datasetsPython();

afterAll(async () => {
  await stopSharedQueue();
  fs.rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli(args, { env: { ...process.env, DATABASE_URL: db.current.url, PAIRWISE_ARTIFACTS_DIR: artifacts }, timeoutMs: 90_000 });

const toolAnswer: TMessage[] = [
  { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } }] },
  { role: 'tool', content: '18 °C', tool_call_id: 'call_1' },
  { role: 'assistant', content: 'Es sind 18 °C.' },
];

/**
 * Comparisons with tools, imported (and judged) after the plain ones, so their shapes first show
 * late in judgment order, as a second import would put them: `tools-0` answers with a tool call
 * and its result; `tools-1` has a Llama `ipython` result in its prompt and plain answers.
 */
const toolLines = [
  JSON.stringify({
    id: 'tools-0',
    prompt: [{ role: 'system', content: 'Use tools.' }, { role: 'user', content: 'Wetter in Zürich?' }],
    responses: [{ content: toolAnswer, model: 'm1' }, { content: 'Keine Ahnung.', model: 'm2' }],
  }),
  JSON.stringify({
    id: 'tools-1',
    prompt: [
      { role: 'user', content: 'What is 6 × 7?' },
      { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'python', arguments: '{"code":"print(6*7)"}' } }] },
      { role: 'ipython', content: '42' },
    ],
    responses: [{ content: 'It is 42.', model: 'm1' }, { content: 'About 40.', model: 'm2' }],
  }),
];

let project: TProject;

beforeAll(async () => {
  const { handle } = db.current;
  const annotator = await makeUser(handle);
  project = await makeProject(handle);
  await importLines(handle, project, comparisonLines(6, 'plain'));
  await importLines(handle, project, toolLines);
  for (let i = 0; i < 6; i++) await castVote(handle, project, annotator, `plain-${i}`, (i % 2) as 0 | 1, 'better');
  // The first flag comes late too: before it, every line's flags list is empty.
  await castVote(handle, project, annotator, 'tools-0', 0, 'significantly_better', { flags: ['unsafe'] });
  await castVote(handle, project, annotator, 'tools-1', 0, 'better');
});

async function text(chunks: AsyncIterable<string | Buffer>): Promise<string> {
  let out = '';
  for await (const chunk of chunks) out += chunk.toString();
  return out;
}

async function projectExport(format: TExportFormat, onSkipped?: (reason: TOpenAiSkip) => void): Promise<Record<string, unknown>[]> {
  return parseLines(await text(streamExport(db.current.handle.sql, project.id, format, { onSkipped })));
}

async function versionExport(versionId: number, format: TVersionFormat, onSkipped?: (reason: TOpenAiSkip) => void): Promise<Record<string, unknown>[]> {
  return parseLines(await text(streamVersionExport(store, versionId, { format, split: 'all', onSkipped })));
}

async function buildEverything(): Promise<number> {
  const { handle, url } = db.current;
  const admin = await makeUser(handle, 'admin');
  const caller = callerFor(handle, url, admin, artifacts);
  const requested = await caller.datasets.build({ name: 'with tools', spec: { projects: [project.slug], testFraction: 0, minStrength: null, dropSimilar: 'none', dropFlagged: false } });
  const built = await buildDatasetVersion(handle, store, requested.id);
  expect(built?.status).toBe('succeeded');
  return built!.id;
}

/** Writes a file and loads it with `datasets` in 4 KiB chunks (its first chunk then holds a few lines, as 10 MiB would of a large file). */
function expectLoads(name: string, lines: Record<string, unknown>[]): void {
  if (!('python' in python)) return;
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l) + '\n').join(''));
  const run = checkTrainingFile(python.python, file, { chunksize: 4096 });
  expect(run.status, `${name}: ${run.stderr}`).toBe(0);
  expect(run.stdout).toContain(`rows: ${lines.length}`);
}

describe('training files with plain and tool-call messages', () => {
  it('project exports (trl, trl-implicit, sft) have one schema from the first line, and load with datasets', async () => {
    if (!('python' in python)) console.info(`datasets load check skipped: ${python.why}`);
    for (const format of ['trl', 'trl-implicit', 'sft'] as const) {
      const lines = await projectExport(format);
      expect(lines.length, format).toBe(8);
      expectStableTrainingSchema(lines);
      expectLoads(`project.${format}.jsonl`, lines);
    }
    const trl = await projectExport('trl');
    // The tool pair moves up: it is the first to show a tool call, a tool result and a flag.
    expect(trl[1]!.metadata).toMatchObject({ comparison_external_id: 'tools-0', flags: ['unsafe'] });
    expect(trl.map((l) => (l.metadata as { strength: string }).strength)).toContain('significantly_better');
    expect(trl.every((l) => (l.metadata as { review: unknown }).review === '')).toBe(true);
  });

  it('version downloads (trl, trl-implicit, sft, sft-completion) have one schema from the first line, and load with datasets', async () => {
    const versionId = await buildEverything();
    const canonical: TCanonicalLine[] = [];
    for await (const line of readCanonicalLines(store, versionId, 'all')) canonical.push(line);
    expect(canonical).toHaveLength(8);
    for (const format of ['trl', 'trl-implicit', 'sft', 'sft-completion'] as const) {
      const lines = await versionExport(versionId, format);
      expect(lines.length, format).toBe(8);
      expectStableTrainingSchema(lines);
      expectLoads(`version.${format}.jsonl`, lines);
    }
    // sft-completion is sft split where the prompt ends: the same conversations, line for line.
    const sft = await versionExport(versionId, 'sft');
    const completion = await versionExport(versionId, 'sft-completion');
    expect(completion.map((l) => [...(l.prompt as TMessage[]), ...(l.completion as TMessage[])])).toEqual(sft.map((l) => l.messages));
    expect(completion.find((l) => (l.completion as TMessage[]).length === 3)?.completion).toEqual(toolAnswer);
  });
});

describe('the OpenAI preference export', () => {
  it('holds only what OpenAI allows: tool roles for ipython, one assistant message per output; the other pairs are counted', async () => {
    const skipped: TOpenAiSkip[] = [];
    const lines = await projectExport('openai', (reason) => skipped.push(reason));
    // The tool-using answer cannot be one assistant message: its pair is skipped and counted.
    expect(skipped).toEqual(['answer']);
    expect(lines).toHaveLength(7);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(['input', 'preferred_output', 'non_preferred_output']);
      const messages = (line.input as { messages: { role: string }[] }).messages;
      expect(messages.every((m) => ['system', 'user', 'assistant', 'tool'].includes(m.role))).toBe(true);
      for (const output of [line.preferred_output, line.non_preferred_output]) {
        expect(output).toEqual([{ role: 'assistant', content: expect.any(String) }]);
      }
    }
    const ipython = lines.find((l) => JSON.stringify(l).includes('6 × 7'))!;
    expect((ipython.input as { messages: unknown[] }).messages).toEqual([
      { role: 'user', content: 'What is 6 × 7?' },
      { role: 'assistant', tool_calls: [{ id: 'call_1_0', type: 'function', function: { name: 'python', arguments: '{"code":"print(6*7)"}' } }] },
      { role: 'tool', content: '42', tool_call_id: 'call_1_0' },
    ]);

    // A version's download is the same encoder: the same lines and the same skip.
    const versionId = await buildEverything();
    const versionSkipped: TOpenAiSkip[] = [];
    const fromVersion = await versionExport(versionId, 'openai', (reason) => versionSkipped.push(reason));
    expect(versionSkipped).toEqual(['answer']);
    expect(fromVersion.map((l) => JSON.stringify(l)).sort()).toEqual(lines.map((l) => JSON.stringify(l)).sort());
  });

  it('the CLI says how many pairs it skipped and why, for a project and for a version', { timeout: 180_000 }, async () => {
    const out = path.join(dir, 'openai.jsonl');
    const exported = await cli(['export', '--project', project.slug, '--format', 'openai', '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain(`wrote 7 preference pair(s) to ${out}`);
    expect(exported.stdout).toMatch(/skipped 1 pair\(s\) that OpenAI's preference format cannot hold: 1 with an answer that is not one plain assistant message/);

    const versionId = await buildEverything();
    const versionOut = path.join(dir, 'version-openai.jsonl');
    const fromVersion = await cli(['dataset', 'export', '--version', String(versionId), '--format', 'openai', '--split', 'all', '--out', versionOut]);
    expect(fromVersion.code, fromVersion.stderr).toBe(0);
    expect(fromVersion.stdout).toMatch(/wrote 7 line\(s\)[\s\S]*skipped 1 pair\(s\)/);
    expect(fs.readFileSync(versionOut, 'utf8').trim().split('\n')).toHaveLength(7);
  });
});

describe('sft-completion downloads of an SFT version', () => {
  /** An SFT version as rejection sampling writes one: sft.jsonl (`{"messages": [...prompt, best]}`), a manifest, a built row. */
  async function sftVersion(conversations: TMessage[][]): Promise<number> {
    const { handle } = db.current;
    const [row] = await handle.sql<{ id: number }[]>`
      insert into dataset_versions (name, kind, spec, status, started_at, finished_at)
      values ('sampled', 'sft', '{}'::jsonb, 'running', now(), now()) returning id::int`;
    const id = row!.id;
    const keys = versionKeys(id);
    await store.write(
      keys.sft,
      (async function* () {
        yield conversations.map((messages) => JSON.stringify({ messages }) + '\n').join('');
      })(),
    );
    const counts = { conversations: conversations.length, prompts: conversations.length, samples: conversations.length, train: conversations.length, test: 0 };
    await handle.sql`update dataset_versions set status = 'succeeded', artifact_prefix = ${keys.prefix}, manifest = ${JSON.stringify({ kind: 'sft', counts })}::jsonb where id = ${id}`;
    return id;
  }

  const conversations: TMessage[][] = [
    [{ role: 'user', content: 'Name a prime.' }, { role: 'assistant', content: '7' }],
    [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Capital of France?' }, { role: 'assistant', content: 'Paris.' }],
    [{ role: 'user', content: 'Wetter?' }, toolAnswer[0]!, toolAnswer[1]!, { role: 'assistant', content: 'Sonnig, 18 °C.', name: 'policy' }],
  ];

  it('round-trips: prompt + completion give back every conversation, the completion being the sampled answer', { timeout: 120_000 }, async () => {
    const id = await sftVersion(conversations);
    const lines = await versionExport(id, 'sft-completion');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => Object.keys(l))).toEqual(Array(3).fill(['prompt', 'completion']));
    // The tool conversation is the first to show a tool call: it leads, the others keep their order.
    expect(lines.map((l) => [...(l.prompt as TMessage[]), ...(l.completion as TMessage[])])).toEqual([conversations[0], conversations[2], conversations[1]]);
    expect(lines.map((l) => l.completion)).toEqual([conversations[0], conversations[2], conversations[1]].map((c) => [c!.at(-1)]));
    expectStableTrainingSchema(lines);
    expectLoads('sampled.sft-completion.jsonl', lines);
    await expect(text(streamVersionExport(store, id, { format: 'sft-completion', split: 'test' }))).rejects.toThrow(/no test split/);
    await expect(text(streamVersionExport(store, id, { format: 'trl', split: 'train' }))).rejects.toThrow(/download it as sft-completion, sft or parquet, not trl/);

    // The CLI writes the same lines.
    const out = path.join(dir, 'sampled.jsonl');
    const exported = await cli(['dataset', 'export', '--version', String(id), '--format', 'sft-completion', '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain(`wrote 3 line(s) to ${out}`);
    expect(parseLines(fs.readFileSync(out, 'utf8'))).toEqual(lines);
  });

  it('is a download format of the REST API and its OpenAPI document', () => {
    expect(ZVersionDownload.parse({ format: 'sft-completion' })).toEqual({ format: 'sft-completion', split: 'train' });
    const doc = buildOpenApiDocument(apiOperations) as { paths: Record<string, { get?: { parameters?: { name: string; schema: { enum?: string[] } }[] } }> };
    const format = doc.paths['/api/v1/datasets/{id}/download']!.get!.parameters!.find((p) => p.name === 'format');
    expect(format?.schema.enum).toContain('sft-completion');
  });
});
