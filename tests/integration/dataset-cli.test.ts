import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, importLines, makeProject, makeUser } from '../helpers/factories';
import { castVote } from '../helpers/votes';

const db = setupTestDatabase();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-dataset-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) =>
  runCli(args, { env: { ...process.env, DATABASE_URL: db.current.url, PAIRWISE_ARTIFACTS_DIR: path.join(dir, 'artifacts') }, timeoutMs: 90_000 });

describe('npm run cli -- dataset', () => {
  it('builds a version (printing its id), lists it, and exports it per split and format', { timeout: 180_000 }, async () => {
    const { handle } = db.current;
    await makeUser(handle, 'admin');
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(12));
    for (let i = 0; i < 12; i++) await castVote(handle, project, annotator, `c-${i}`, 0, i % 3 === 0 ? 'slightly_better' : 'better');

    const built = await cli(['dataset', 'build', '--project', project.slug, '--name', 'rm round 1', '--test-fraction', '0.25']);
    expect(built.stderr).toMatch(/built dataset version \d+ "rm round 1": 8 pair\(s\)/);
    expect(built.code).toBe(0);
    const id = built.stdout.trim();
    expect(id).toMatch(/^\d+$/);

    const listed = await cli(['dataset', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`^\\s*${id}\\s+succeeded .* 8 pairs .*rm round 1$`, 'm'));

    const train = path.join(dir, 'train.jsonl');
    const test = path.join(dir, 'test.jsonl');
    expect((await cli(['dataset', 'export', '--version', id, '--format', 'trl', '--split', 'train', '--out', train])).code).toBe(0);
    expect((await cli(['dataset', 'export', '--version', id, '--format', 'sft', '--split', 'test', '--out', test])).code).toBe(0);
    const trainLines = fs.readFileSync(train, 'utf8').trim().split('\n').filter(Boolean);
    const testLines = fs.readFileSync(test, 'utf8').split('\n').filter(Boolean);
    expect(trainLines.length + testLines.length).toBe(8);
    expect(Object.keys(JSON.parse(trainLines[0]!) as object)).toEqual(['prompt', 'chosen', 'rejected', 'metadata']);

    const empty = await cli(['dataset', 'build', '--project', project.slug, '--name', 'none', '--min-strength', 'significantly_better']);
    expect(empty.stderr).toMatch(/0 pair\(s\)[\s\S]*the selection is empty/);
    const out = path.join(dir, 'empty.jsonl');
    const exported = await cli(['dataset', 'export', '--version', empty.stdout.trim(), '--out', out]);
    expect(exported.stdout).toMatch(/is empty: wrote an empty file/);
    expect(fs.readFileSync(out, 'utf8')).toBe('');
  });

  it('names the problem with bad options', { timeout: 120_000 }, async () => {
    const bad = await cli(['dataset', 'build', '--project', 'nope', '--name', 'x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no project with slug nope/);
    const share = await cli(['dataset', 'build', '--project', 'nope', '--name', 'x', '--test-fraction', '2']);
    expect(share.stderr).toMatch(/--test-fraction.*must be a number between 0 and 1/);
    const missing = await cli(['dataset', 'export', '--version', '999999', '--out', path.join(dir, 'x')]);
    expect(missing.stderr).toMatch(/no dataset version 999999/);
  });
});
