import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseComparisons } from '@/server/annotation/lease';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import { localArtifactStore, type TArtifactStore } from '@/server/artifacts/store';
import { exportContentType } from '@/server/exports/export-lines';
import { exportFileName, runExport } from '@/server/exports/exports';
import { streamPreferencePairs } from '@/server/exports/preference-pairs';
import { trainingMessage } from '@/server/formats/training-messages';
import type { TProject } from '@/server/projects/projects';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, importLines, makeProject, makeUser } from '../helpers/factories';
import { collect, readWithArrow, readWithHyparquet } from '../helpers/parquet-read';

const db = setupTestDatabase();
const projectRoot = path.resolve(import.meta.dirname, '../..');
let workDir: string;
let store: TArtifactStore;

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-parquet-export-'));
  store = localArtifactStore(path.join(workDir, 'artifacts'));
});

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

// Tool calls, tool results, unicode and an empty assistant message, as imported.
const toolLines = [
  JSON.stringify({
    id: 'tools-1',
    prompt: [
      { role: 'system', content: 'Use tools. Réponds brièvement 🙂' },
      { role: 'user', content: 'Wetter in Zürich? 天気は？' },
    ],
    responses: [
      {
        content: [
          { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } }] },
          { role: 'tool', content: '18 °C', tool_call_id: 'call_1' },
          { role: 'assistant', content: 'Es sind 18 °C.' },
        ],
        model: 'tool-model',
      },
      { content: 'Keine Ahnung.', model: 'plain-model' },
    ],
  }),
];

async function judgeAll(project: TProject, annotatorId: number): Promise<number> {
  const { handle } = db.current;
  let n = 0;
  for (;;) {
    const [item] = await leaseComparisons(handle.db, { projectId: project.id, annotatorId, leaseSeconds: 900, want: 1 });
    if (!item) return n;
    await submitJudgment(handle.db, {
      annotatorId,
      assignmentId: item.assignmentId,
      clientSubmissionId: crypto.randomUUID(),
      chosenPosition: n % 2,
      strength: n % 3 === 0 ? 'significantly_better' : 'slightly_better',
      // The first judgment also rewrites the answer (edited > chosen > rejected) and flags it.
      ...(n === 0 ? { edit: 'Réécrit : 18 °C ☀️', flags: ['unsafe' as const] } : {}),
      timeSpentMs: 1000,
    });
    n++;
  }
}

async function requestParquetExport(project: TProject): Promise<number> {
  const [row] = await db.current.handle.sql<{ id: string }[]>`insert into exports (project_id, format) values (${project.id}, 'parquet') returning id`;
  return Number(row!.id);
}

/** The project's pairs, flattened the way the Parquet columns hold them: each message its own JSON, metadata in columns. */
async function expectedRows(project: TProject) {
  const rows: Record<string, unknown>[] = [];
  for await (const batch of streamPreferencePairs(db.current.handle.sql, project.id)) {
    for (const { prompt, chosen, rejected, metadata } of batch) {
      rows.push({ prompt: prompt.map(trainingMessage), chosen: chosen.map(trainingMessage), rejected: rejected.map(trainingMessage), ...metadata });
    }
  }
  return rows;
}

/** Arrow reads a JSON column as its text: the messages parsed back. */
function arrowRows(file: Buffer) {
  const parse = (messages: unknown) => (messages as string[]).map((m) => JSON.parse(m) as Record<string, unknown>);
  return readWithArrow(file).rows.map((r): Record<string, unknown> & Record<'prompt' | 'chosen' | 'rejected', Record<string, unknown>[]> => ({
    ...r,
    prompt: parse(r.prompt),
    chosen: parse(r.chosen),
    rejected: parse(r.rejected),
  }));
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: db.current.url, PAIRWISE_DATA_DIR: path.join(workDir, 'no-data-dir') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('project exports as Parquet', () => {
  let project: TProject;

  beforeAll(async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    project = await makeProject(handle);
    await importLines(handle, project, [...toolLines, ...comparisonLines(5, 'pq')]);
    expect(await judgeAll(project, annotator.id)).toBe(6);
  });

  it('runExport writes a .parquet artifact whose rows are the TRL pairs, metadata flattened', async () => {
    const exportId = await requestParquetExport(project);
    const done = await runExport(db.current.handle, store, exportId);
    expect(done).toMatchObject({ status: 'succeeded', error: null, rowCount: 8, artifactKey: `exports/${project.slug}-parquet-${exportId}.parquet` });
    expect(exportFileName(done!, project.slug)).toBe(`${project.slug}-parquet-${exportId}.parquet`);
    expect(exportContentType('parquet')).toBe('application/vnd.apache.parquet');
    expect(exportContentType('trl')).toBe('application/x-ndjson; charset=utf-8');

    const file = await collect(await store.read(done!.artifactKey!));
    expect(await store.size(done!.artifactKey!)).toBe(file.length);
    const rows = arrowRows(file);
    const expected = await expectedRows(project);
    // The edit gives three pairs, the five plain judgments one each.
    expect(expected).toHaveLength(8);
    expect(rows).toEqual(expected);
    expect(rows.map((r) => r.relation)).toEqual(['edited>chosen', 'edited>rejected', 'chosen>rejected', ...Array(5).fill('chosen>rejected')]);
    // Tool calls are kept, and only the messages that make them have the key: none is null.
    const messages = rows.flatMap((r) => [...r.prompt, ...r.chosen, ...r.rejected]);
    const calls = messages.filter((m) => 'tool_calls' in m);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((m) => m.role === 'assistant' && (m.tool_calls as unknown[]).length === 1)).toBe(true);
    expect(messages.filter((m) => m.role === 'user' && Object.keys(m).join() !== 'role,content')).toEqual([]);
    expect(messages.filter((m) => Object.values(m).includes(null))).toEqual([]);
    expect((await readWithHyparquet(file)).metadata.num_rows).toBe(8n);
  });

  it('writes a valid Parquet file with the schema and no rows for a project without judgments', async () => {
    const empty = await makeProject(db.current.handle);
    await importLines(db.current.handle, empty, comparisonLines(2, 'unjudged'));
    const done = await runExport(db.current.handle, store, await requestParquetExport(empty));
    expect(done).toMatchObject({ status: 'succeeded', rowCount: 0 });
    const arrow = readWithArrow(await collect(await store.read(done!.artifactKey!)));
    expect(arrow.numRows).toBe(0);
    expect(arrow.fields.slice(0, 4).map((f) => f.name)).toEqual(['prompt', 'chosen', 'rejected', 'judgment_id']);
  });

  it('the CLI writes the same rows with export --format parquet --out FILE', async () => {
    const out = path.join(workDir, 'cli.parquet');
    const result = await cli(['export', '--project', project.slug, '--format', 'parquet', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`wrote 8 preference pair(s) to ${out}`);
    const file = fs.readFileSync(out);
    expect(file.subarray(0, 4).toString('latin1')).toBe('PAR1');
    expect(arrowRows(file)).toEqual(await expectedRows(project));
  });
});
