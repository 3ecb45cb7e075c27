import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { leaseComparisons } from '@/server/annotation/lease';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import type { TPreferencePair as TTrlPreferenceRow } from '@/server/exports/preference-pairs';
import { findProjectBySlug, listMembers, type TProject } from '@/server/projects/projects';
import { findUserByEmail, verifyCredentials } from '@/server/users/users';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, importLines, makeProject, makeUser } from '../helpers/factories';

const db = setupTestDatabase();
const projectRoot = path.resolve(import.meta.dirname, '../..');
const CLI_TIMEOUT_MS = 30_000;

let workDir: string;
/** Where the CLI would put the embedded server's files: with DATABASE_URL set it must stay untouched. */
let dataDir: string;

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-cli-test-'));
  dataDir = path.join(workDir, 'data-dir-never-created');
});

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

interface TCliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process against the test database. */
function cli(args: string[], options: { stdin?: string } = {}): Promise<TCliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: db.current.url, PAIRWISE_DATA_DIR: dataDir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} did not exit within ${CLI_TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** comparisonLines' responses say which model wrote them: "answer <prefix> <i> from m1". */
const modelOf = (messages: TMessage[]) => messages[0]!.content.match(/from (m\d)$/)![1]!;

function writeFile(name: string, content: string | Buffer): string {
  const file = path.join(workDir, name);
  fs.writeFileSync(file, content);
  return file;
}

async function comparisonCount(project: TProject): Promise<{ comparisons: number; prompts: number; responses: number }> {
  const [row] = await db.current.handle.sql<{ comparisons: number; prompts: number; responses: number }[]>`
    select (select count(*)::int from comparisons where project_id = ${project.id}) as comparisons,
           (select count(*)::int from prompts where project_id = ${project.id}) as prompts,
           (select count(*)::int from responses r join prompts p on p.id = r.prompt_id where p.project_id = ${project.id}) as responses`;
  return row!;
}

// Help needs no database, so the six child processes may run side by side.
describe.concurrent('cli --help', () => {
  it.for([
    [[], ['user', 'project', 'member', 'import', 'export']],
    [['user', 'create'], ['--email', '--role', 'stdin']],
    [['project', 'create'], ['--slug', '--name', '--judgments', '--lease-seconds']],
    [['member', 'add'], ['--project', '--email', '--role']],
    [['import'], ['--project', '<file>', '.jsonl.gz']],
    [['export'], ['--project', '--format', '--out']],
  ] as [string[], string[]][])('%j prints its usage and exits 0', async ([command, mentions], { expect }) => {
    const result = await cli([...command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: npm run cli -- ${command.join(' ')}`.trimEnd());
    for (const word of mentions) expect(result.stdout).toContain(word);
  });
});

describe('cli users, projects and members', () => {
  const email = `cli-user-${Date.now()}@test.local`;
  const password = 'a long enough password';
  const slug = `cli-${Date.now().toString(36)}`;

  it('user create reads the password from stdin', async () => {
    const result = await cli(['user', 'create', '--email', email, '--role', 'annotator'], { stdin: `${password}\n` });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^created annotator ${email} \\(id \\d+\\)\\n$`));

    const { db: d } = db.current.handle;
    expect(await findUserByEmail(d, email)).toMatchObject({ email, role: 'annotator' });
    expect(await verifyCredentials(d, email, password)).toMatchObject({ email, role: 'annotator' });
    // The trailing newline of the pipe is not part of the password, and a wrong one does not verify.
    expect(await verifyCredentials(d, email, `${password}\n`)).toBeNull();
    expect(await verifyCredentials(d, email, 'another password')).toBeNull();
    // No embedded server was started: DATABASE_URL was used.
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('user create refuses a duplicate email and a short password, with a message and a failing exit code', async () => {
    const duplicate = await cli(['user', 'create', '--email', email, '--role', 'admin'], { stdin: 'yet another password\n' });
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.stderr).toContain(`error: a user with email ${email} already exists`);
    expect(await findUserByEmail(db.current.handle.db, email)).toMatchObject({ role: 'annotator' });

    const short = await cli(['user', 'create', '--email', `short-${email}`, '--role', 'annotator'], { stdin: 'short\n' });
    expect(short.code).not.toBe(0);
    expect(short.stderr).toContain('password: must be at least 8 characters');
    expect(await findUserByEmail(db.current.handle.db, `short-${email}`)).toBeNull();
  });

  it('project create sets the judgments per comparison', async () => {
    const result = await cli(['project', 'create', '--slug', slug, '--name', 'CLI project', '--judgments', '2']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`created project ${slug}`);
    expect(result.stdout).toContain('2 judgment(s) per comparison');
    expect(await findProjectBySlug(db.current.handle.db, slug)).toMatchObject({ slug, name: 'CLI project', judgmentsRequired: 2, leaseSeconds: 900 });
  });

  it('project create refuses a bad judgments count and a bad slug', async () => {
    const zero = await cli(['project', 'create', '--slug', `${slug}-zero`, '--name', 'Zero', '--judgments', '0']);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toContain('must be a positive integer');
    const badSlug = await cli(['project', 'create', '--slug', 'Bad Slug!', '--name', 'Bad']);
    expect(badSlug.code).not.toBe(0);
    expect(badSlug.stderr).toContain('error: slug: must be lower-case letters');
    expect(await findProjectBySlug(db.current.handle.db, `${slug}-zero`)).toBeNull();
  });

  it('member add gives the user a role in the project', async () => {
    const result = await cli(['member', 'add', '--project', slug, '--email', email, '--role', 'annotator']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${email} is annotator in ${slug}`);
    const project = await findProjectBySlug(db.current.handle.db, slug);
    expect(await listMembers(db.current.handle.db, project!.id)).toEqual([{ userId: expect.any(Number), email, role: 'annotator' }]);
  });

  it('member add names what is missing', async () => {
    const noProject = await cli(['member', 'add', '--project', 'no-such-project', '--email', email, '--role', 'annotator']);
    expect(noProject.code).not.toBe(0);
    expect(noProject.stderr).toContain('no project with slug no-such-project');
    const noUser = await cli(['member', 'add', '--project', slug, '--email', 'nobody@test.local', '--role', 'annotator']);
    expect(noUser.code).not.toBe(0);
    expect(noUser.stderr).toContain('no user with email nobody@test.local');
  });
});

describe('cli import', () => {
  it('imports a .jsonl and a .jsonl.gz file', async () => {
    const project = await makeProject(db.current.handle, { judgmentsRequired: 2 });
    const plain = writeFile('plain.jsonl', comparisonLines(3, 'plain').join('\n') + '\n');
    const gzipped = writeFile('packed.jsonl.gz', gzipSync(comparisonLines(4, 'gz').join('\n') + '\n'));

    const first = await cli(['import', '--project', project.slug, plain]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`imported 3 comparison(s) into ${project.slug}`);
    const second = await cli(['import', '--project', project.slug, gzipped]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`imported 4 comparison(s) into ${project.slug}`);
    expect(await comparisonCount(project)).toEqual({ comparisons: 7, prompts: 7, responses: 14 });

    const [required] = await db.current.handle.sql<{ n: number }[]>`
      select count(*)::int as n from comparisons where project_id = ${project.id} and judgments_required = 2`;
    expect(required?.n).toBe(7);

    // Importing the same file again adds nothing.
    const again = await cli(['import', '--project', project.slug, plain]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('imported 0 comparison(s)');
    expect(again.stdout).toContain('3 duplicate(s) skipped');
    expect(await comparisonCount(project)).toEqual({ comparisons: 7, prompts: 7, responses: 14 });
  });

  it('refuses a file with a bad line, names the line, and writes nothing', async () => {
    const project = await makeProject(db.current.handle);
    await importLines(db.current.handle, project, comparisonLines(1, 'before'));
    const good = comparisonLines(3, 'bad-file');
    const malformed = writeFile('malformed.jsonl', [good[0], good[1], '{"prompt": "unterminated', good[2]].join('\n') + '\n');
    const oneResponse = writeFile(
      'one-response.jsonl',
      [good[0], JSON.stringify({ prompt: 'p', responses: [{ content: 'only one' }] })].join('\n') + '\n',
    );

    const a = await cli(['import', '--project', project.slug, malformed]);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toContain('line 3:');
    expect(a.stderr).toContain('malformed JSON');
    expect(a.stderr).toContain('nothing was imported');
    expect(a.stdout).not.toContain('imported');

    const b = await cli(['import', '--project', project.slug, oneResponse]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toContain('line 2: responses: a comparison needs at least two responses');

    const nineResponses = writeFile(
      'nine-responses.jsonl',
      [good[0], JSON.stringify({ prompt: 'p', responses: Array.from({ length: 9 }, (_, i) => ({ content: `r${i}` })) })].join('\n') + '\n',
    );
    const d = await cli(['import', '--project', project.slug, nineResponses]);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toContain('line 2: responses: a comparison holds at most 8 responses');

    const corrupt = gzipSync(comparisonLines(50, 'corrupt').join('\n') + '\n');
    const c = await cli(['import', '--project', project.slug, writeFile('corrupt.jsonl.gz', corrupt.subarray(0, Math.floor(corrupt.length / 2)))]);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/line \d+:/);

    const missing = await cli(['import', '--project', project.slug, path.join(workDir, 'does-not-exist.jsonl')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('cannot read');

    expect(await comparisonCount(project)).toEqual({ comparisons: 1, prompts: 1, responses: 2 });
  });
});

describe('cli export', () => {
  it('writes one TRL line per judgment, chosen and rejected as judged', async () => {
    const { handle } = db.current;
    const [first, second] = [await makeUser(handle), await makeUser(handle)];
    const project = await makeProject(handle, { judgmentsRequired: 2 });
    await importLines(handle, project, comparisonLines(3, 'export'));

    // TRL training lines: the pair, its metadata with one type per key (see typed-metadata.ts).
    const expected: (Omit<TTrlPreferenceRow, 'metadata'> & { metadata: Record<string, unknown> })[] = [];
    let i = 0;
    for (const annotator of [first, second]) {
      for (;;) {
        const [item] = await leaseComparisons(handle.db, { projectId: project.id, annotatorId: annotator.id, leaseSeconds: 900, want: 1 });
        if (!item) break;
        const position = i++ % 2;
        const { judgmentId } = await submitJudgment(handle.db, {
          annotatorId: annotator.id,
          assignmentId: item.assignmentId,
          clientSubmissionId: crypto.randomUUID(),
          chosenPosition: position,
          strength: 'better',
          timeSpentMs: 1000,
        });
        const [chosen, rejected] = [item.responses[position]!.messages, item.responses[1 - position]!.messages];
        expected.push({
          prompt: item.prompt,
          chosen,
          rejected,
          metadata: {
            judgment_id: judgmentId,
            comparison_id: item.comparisonId,
            comparison_external_id: `export-${item.prompt[0]!.content.split(' ').at(-1)}`,
            annotator_id: annotator.id,
            strength: 'better',
            relation: 'chosen>rejected',
            flags: [],
            chosen_model: modelOf(chosen),
            rejected_model: modelOf(rejected),
            chosen_origin: 'model',
            rejected_origin: 'model',
            // A training file's metadata has one type per key: no guidelines version is 0, no review or source ''.
            guidelines_version: 0,
            review: '',
            source: '',
          },
        });
      }
    }
    expect(expected).toHaveLength(6);

    const out = path.join(workDir, 'export.jsonl');
    const result = await cli(['export', '--project', project.slug, '--format', 'trl', '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`wrote 6 preference pair(s) to ${out}`);
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    const rows = lines.map((l) => JSON.parse(l) as TTrlPreferenceRow);
    rows.forEach((row, k) => {
      expect(Object.keys(row).sort()).toEqual(['chosen', 'metadata', 'prompt', 'rejected']);
      expect(row).toEqual(expected[k]);
    });
  });

  it('writes an empty file and says so for a project without judgments', async () => {
    const project = await makeProject(db.current.handle);
    await importLines(db.current.handle, project, comparisonLines(2, 'unjudged'));
    const out = path.join(workDir, 'empty.jsonl');
    const result = await cli(['export', '--project', project.slug, '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`no judgments in ${project.slug} yet`);
    expect(fs.readFileSync(out, 'utf8')).toBe('');
  });

  it('fails for an unknown project without writing a file', async () => {
    const out = path.join(workDir, 'unknown.jsonl');
    const result = await cli(['export', '--project', 'no-such-project', '--out', out]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('error: no project with slug no-such-project');
    expect(fs.existsSync(out)).toBe(false);
  });
});
