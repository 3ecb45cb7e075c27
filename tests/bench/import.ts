/**
 * Import speed: `npm run bench -- import [comparisons]` (default 50,000; or BENCH_COMPARISONS).
 * Writes N generated native comparisons to a JSONL file and imports it the way the CLI does
 * (read, validate, hash, dedup, write, one transaction). Then the raw baseline: COPY FROM STDIN
 * of the same rows (prompts, responses, comparisons, comparison_responses, ids given) into a
 * fresh database on the same server. Prints both rates and their ratio (goal: at least 0.3),
 * then one JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { contentHash } from '@/server/content/hash';
import { importInFormat } from '@/server/imports/import-formats';
import { createProject } from '@/server/projects/projects';
import { prepareDatabase } from '@/server/setup/installation';
import { benchDatabase, round } from './bench-database';

const WORDS = (
  'the a model answer list value function returns each first second because which when python array index ' +
  'sorted reverse string number loop result example should could would data table query column row key'
).split(' ');

/** Deterministic text of about `bytes` bytes. */
function text(seed: number, bytes: number): string {
  let x = (seed * 2654435761) >>> 0;
  const out: string[] = [];
  let length = 0;
  while (length < bytes) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const word = WORDS[(x >>> 8) % WORDS.length]!;
    out.push(word);
    length += word.length + 1;
  }
  return out.join(' ');
}

interface TGenerated {
  id: string;
  prompt: { role: 'system' | 'user'; content: string }[];
  responses: { content: string; model: string }[];
  metadata: Record<string, unknown>;
}

/** About 1.2 KB a line: a prompt (a system message in one line of five), two answers of two models. */
export function generateComparison(i: number): TGenerated {
  const prompt: TGenerated['prompt'] = [];
  if (i % 5 === 0) prompt.push({ role: 'system', content: 'You are a careful assistant. Answer briefly.' });
  prompt.push({ role: 'user', content: `Question ${i}: ${text(i, 160)}?` });
  return {
    id: `bench-${i}`,
    prompt,
    responses: [
      { content: text(i * 3 + 1, 450), model: 'model-a' },
      { content: `Answer ${i}.\n\n${text(i * 3 + 2, 450)}`, model: 'model-b' },
    ],
    metadata: { topic: ['coding', 'math', 'writing', 'facts'][i % 4], difficulty: i % 3 },
  };
}

/** COPY text format: backslash, newline, carriage return and tab escaped. */
function copyField(value: string | number | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'number') return String(value);
  return value.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

/** The four tables' rows in COPY text, in chunks of about 1 MB. Ids are given (COPY writes them into identity columns). */
function copyRows(projectId: number, n: number): Record<'prompts' | 'responses' | 'comparisons' | 'comparison_responses', string[]> {
  const tables = { prompts: [] as string[], responses: [] as string[], comparisons: [] as string[], comparison_responses: [] as string[] };
  const buffers = { prompts: '', responses: '', comparisons: '', comparison_responses: '' };
  const add = (table: keyof typeof tables, fields: (string | number | null)[]) => {
    buffers[table] += fields.map(copyField).join('\t') + '\n';
    if (buffers[table].length > 1_000_000) {
      tables[table].push(buffers[table]);
      buffers[table] = '';
    }
  };
  let responseId = 0;
  for (let i = 0; i < n; i++) {
    const c = generateComparison(i);
    const id = i + 1;
    add('prompts', [id, projectId, JSON.stringify(c.prompt), contentHash(c.prompt)]);
    const hash = contentHash({ prompt: c.prompt, responses: c.responses.map((r) => ({ content: [{ role: 'assistant', content: r.content }], model: r.model })) });
    add('comparisons', [id, projectId, id, c.id, hash, 1, JSON.stringify(c.metadata)]);
    c.responses.forEach((r, position) => {
      responseId += 1;
      add('responses', [responseId, id, JSON.stringify([{ role: 'assistant', content: r.content }]), r.model, 'model']);
      add('comparison_responses', [id, position, responseId]);
    });
  }
  for (const table of Object.keys(tables) as (keyof typeof tables)[]) if (buffers[table]) tables[table].push(buffers[table]);
  return tables;
}

const columns = {
  prompts: 'id, project_id, messages, content_hash',
  comparisons: 'id, project_id, prompt_id, external_id, content_hash, judgments_required, metadata',
  responses: 'id, prompt_id, messages, model, origin',
  comparison_responses: 'comparison_id, position, response_id',
} as const;

/** COPY FROM STDIN of every table in one transaction; returns the seconds it took. */
async function copyBaseline(url: string, n: number): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [project] = await sql<{ id: string }[]>`insert into projects (slug, name, judgments_required) values ('bench-copy', 'Bench copy', 1) returning id`;
    const rows = copyRows(Number(project!.id), n);
    const started = performance.now();
    await sql.begin(async (tx) => {
      for (const table of ['prompts', 'comparisons', 'responses', 'comparison_responses'] as const) {
        const writable = await tx.unsafe(`copy ${table} (${columns[table]}) from stdin`).writable();
        await pipeline(Readable.from(rows[table]), writable);
      }
    });
    const seconds = (performance.now() - started) / 1000;
    const [check] = await sql<{ comparisons: number; links: number }[]>`
      select (select count(*)::int from comparisons) as comparisons, (select count(*)::int from comparison_responses) as links`;
    if (check!.comparisons !== n || check!.links !== 2 * n) throw new Error(`COPY baseline wrote ${check!.comparisons} comparisons, ${check!.links} links`);
    return seconds;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function run(n = Number(process.argv[3] ?? process.env.BENCH_COMPARISONS ?? 50_000)): Promise<void> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`comparisons must be a positive integer, not ${n}`);
  const bench = await benchDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-bench-import-'));
  const copyName = `${new URL(bench.url).pathname.slice(1)}_copy`;
  const serverUrl = new URL(bench.url);
  serverUrl.pathname = '/postgres';
  const admin = postgres(serverUrl.toString(), { max: 1, onnotice: () => {} });
  try {
    const file = path.join(dir, 'comparisons.jsonl');
    const out = fs.createWriteStream(file);
    for (let i = 0; i < n; i++) if (!out.write(JSON.stringify(generateComparison(i)) + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    const bytes = fs.statSync(file).size;
    console.log(`${n.toLocaleString()} comparisons, ${round(bytes / 1e6)} MB of JSONL`);

    const project = await createProject(bench.handle.db, { slug: 'bench-import', name: 'Bench import', judgmentsRequired: 1 });
    const started = performance.now();
    const result = await importInFormat(bench.handle.db, {
      projectId: project.id,
      judgmentsRequired: project.judgmentsRequired,
      format: 'native',
      files: [{ name: 'comparisons.jsonl', source: fs.createReadStream(file, { highWaterMark: 256 * 1024 }) }],
    });
    const importSeconds = (performance.now() - started) / 1000;
    if (result.imported !== n) throw new Error(`imported ${result.imported} of ${n}`);
    const importRate = n / importSeconds;
    console.log(`importer: ${round(importSeconds, 2)} s, ${Math.round(importRate).toLocaleString()} comparisons/s`);

    await admin.unsafe(`create database ${copyName}`);
    const copyUrl = new URL(bench.url);
    copyUrl.pathname = `/${copyName}`;
    await prepareDatabase(copyUrl.toString());
    const copySeconds = await copyBaseline(copyUrl.toString(), n);
    const copyRate = n / copySeconds;
    console.log(`COPY baseline: ${round(copySeconds, 2)} s, ${Math.round(copyRate).toLocaleString()} comparisons/s`);
    const ratio = importRate / copyRate;
    console.log(`ratio importer / COPY: ${ratio.toFixed(3)} (goal: at least 0.3)`);
    console.log(JSON.stringify({ bench: 'import', comparisons_per_s: Math.round(importRate), ratio_to_copy: Number(ratio.toFixed(3)) }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await admin.unsafe(`drop database if exists ${copyName} with (force)`).catch(() => {});
    await admin.end({ timeout: 5 });
    await bench.close();
  }
}
