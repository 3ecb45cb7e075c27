/**
 * Many annotators at once against the real web app (`npm start`'s launcher: production build,
 * next start, the worker), side by side with the same SQL sent straight to PostgreSQL.
 *
 * Each scenario: N annotators, signed in through next-auth over HTTP, each looping lease ->
 * submit through /api/trpc as the annotate page does, with an optional think time, for a fixed
 * time; then the same N loops running the services' statements through a postgres.js pool as
 * large as the web app's, on a copy of the same project in another database. Integrity is
 * checked in SQL after each half. Scenarios: n20 (no think), n200 (no think), n1000 (10 s think).
 *
 *   npm run bench -- load [--scenario n20|n200|n1000] [--annotators N] [--think-ms MS] [--seconds S]
 *
 * Prints a table per scenario, then one JSON line whose top-level figures are n200's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { createDb } from '@/db/client';
import { startEmbeddedPostgres } from '@/db/embedded';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { TAppRouter } from '@/server/root';
import { strengths } from '@/server/annotation/strengths';
import { prepareDatabase } from '@/server/setup/installation';
import { startApp, type TRunningApp } from '../helpers/app-process';
import { percentile, round } from './bench-database';
import { LoadClient } from './load-http';
import { buildLoadProject, checkIntegrity, insertAnnotators, LOAD_PASSWORD, loadEmail, type TIntegrity } from './load-project';
import { rawLease, rawSubmit } from './load-raw';

/** The web app's pool: createDb's default, which getDb() uses (db/client.ts). */
const WEB_POOL = 10;
const JUDGMENTS_REQUIRED = 2;
/** Generous upper bound on cycles per second, for sizing projects that must not run dry. */
const MAX_CYCLES_PER_S = 1500;
const SIGN_IN_CONCURRENCY = 4;

interface TScenario {
  name: string;
  annotators: number;
  thinkMs: number;
  seconds: number;
}

interface TPathResult {
  cycles: number;
  seconds: number;
  cyclesPerS: number;
  leaseMs: number[];
  submitMs: number[];
  errors: Record<string, number>;
  /** Leases that came back empty: the project ran dry or capacity was held by others. */
  dry: number;
  acknowledged: string[];
  clientCpuMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv: string[]): TScenario[] {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (!flag.startsWith('--')) throw new Error(`unexpected argument ${flag}`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
    flags.set(flag.slice(2), value);
    i++;
  }
  const known = new Set(['scenario', 'annotators', 'think-ms', 'seconds']);
  for (const key of flags.keys()) if (!known.has(key)) throw new Error(`unknown flag --${key} (known: ${[...known].map((k) => `--${k}`).join(', ')})`);
  const number = (key: string) => {
    const raw = flags.get(key);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${key} must be a non-negative number`);
    return n;
  };
  const seconds = number('seconds') ?? 30;
  if (seconds <= 0) throw new Error('--seconds must be positive');
  const defaults: TScenario[] = [
    { name: 'n20', annotators: 20, thinkMs: 0, seconds },
    { name: 'n200', annotators: 200, thinkMs: 0, seconds },
    { name: 'n1000', annotators: 1000, thinkMs: 10_000, seconds },
  ];
  let chosen = defaults;
  const name = flags.get('scenario');
  if (name) {
    chosen = defaults.filter((s) => s.name === name);
    if (chosen.length === 0) throw new Error(`--scenario must be one of ${defaults.map((s) => s.name).join(', ')}`);
  }
  const annotators = number('annotators');
  const thinkMs = number('think-ms');
  if (annotators !== undefined || thinkMs !== undefined) {
    // Custom figures replace the chosen scenario's (or make one custom scenario).
    const base = name ? chosen[0]! : { name: 'custom', annotators: 20, thinkMs: 0, seconds };
    const n = Math.trunc(annotators ?? base.annotators);
    if (n < 1) throw new Error('--annotators must be at least 1');
    chosen = [{ ...base, name: name ? base.name : `n${n}`, annotators: n, thinkMs: thinkMs ?? base.thinkMs }];
  }
  return chosen;
}

/** Comparisons for one scenario: every judgment it could possibly make, plus the two leases each annotator holds. */
function comparisonsFor(s: TScenario): number {
  const rate = s.thinkMs > 0 ? Math.min(MAX_CYCLES_PER_S, (2 * s.annotators * 1000) / s.thinkMs) : MAX_CYCLES_PER_S;
  return Math.ceil((rate * s.seconds + 2 * s.annotators) / JUDGMENTS_REQUIRED) + 100;
}

/** utime + stime of a process and its descendants, in milliseconds (Linux /proc). */
function treeCpuMs(rootPid: number): number {
  const tick = 1000 / 100; // USER_HZ is 100 on every Linux Node supports
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) * tick });
    } catch {
      /* exited meanwhile */
    }
  }
  let total = 0;
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.pop()!;
    total += stats.get(pid)?.cpu ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) queue.push(child);
  }
  return total;
}

/** startApp leaves its launcher running when start-up fails; it is still this process's child. */
function stopLaunchersStartedHere(): void {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('launcher/start.ts')) process.kill(Number(entry), 'SIGINT');
    } catch {
      /* exited meanwhile */
    }
  }
}

/** The launcher's web child (next start), not the worker. */
function webPid(launcherPid: number): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== launcherPid) continue;
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!cmdline.includes('workers/index.ts')) return Number(entry);
    } catch {
      /* exited meanwhile */
    }
  }
  throw new Error(`no web process under the launcher (pid ${launcherPid})`);
}

/**
 * Statements executed in one database: pg_stat_statements when the server preloads it, else
 * committed plus rolled-back transactions from pg_stat_database (each autocommit statement and
 * each BEGIN..COMMIT counts one), which backends report when idle, within about 10 s.
 */
async function statementCounter(url: string): Promise<{ kind: 'statements' | 'transactions'; settleMs: number; read(): Promise<number>; close(): Promise<void> }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let kind: 'statements' | 'transactions' = 'transactions';
  try {
    await sql`create extension if not exists pg_stat_statements`;
    await sql`select 1 from pg_stat_statements limit 1`;
    kind = 'statements';
  } catch {
    /* not preloaded (shared_preload_libraries): fall back to transactions */
  }
  return {
    kind,
    settleMs: kind === 'statements' ? 200 : 11_000,
    async read() {
      const [row] =
        kind === 'statements'
          ? await sql`select coalesce(sum(calls), 0)::bigint as n from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())`
          : await sql`select (xact_commit + xact_rollback)::bigint as n from pg_stat_database where datname = current_database()`;
      return Number(row!.n);
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** N loops of lease -> submit until the deadline; `cycle` does one and reports its parts. */
async function drive(
  s: TScenario,
  cycle: (annotator: number, k: number, result: TPathResult) => Promise<unknown>,
): Promise<TPathResult> {
  const result: TPathResult = { cycles: 0, seconds: 0, cyclesPerS: 0, leaseMs: [], submitMs: [], errors: {}, dry: 0, acknowledged: [], clientCpuMs: 0 };
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + s.seconds * 1000;
  await Promise.all(
    Array.from({ length: s.annotators }, async (_, annotator) => {
      // With a think time, annotators arrive spread over one think time, not all in the first millisecond.
      if (s.thinkMs > 0) await sleep(Math.random() * s.thinkMs);
      for (let k = 0; performance.now() < end; k++) {
        await cycle(annotator, k, result);
        if (s.thinkMs > 0 && performance.now() + s.thinkMs < end) await sleep(s.thinkMs);
        else if (s.thinkMs > 0) break;
      }
    }),
  );
  result.seconds = (performance.now() - start) / 1000;
  result.cyclesPerS = result.cycles / result.seconds;
  const used = process.cpuUsage(cpu);
  result.clientCpuMs = (used.user + used.system) / 1000;
  result.leaseMs.sort((a, b) => a - b);
  result.submitMs.sort((a, b) => a - b);
  return result;
}

const countError = (result: TPathResult, key: string) => (result.errors[key] = (result.errors[key] ?? 0) + 1);

/** Typed from the router, so a change to what the page sends or receives breaks the typecheck here. */
type TLeaseOutput = inferRouterOutputs<TAppRouter>['annotation']['lease'];
type TSubmitInput = inferRouterInputs<TAppRouter>['annotation']['submit'];

function httpCycle(client: LoadClient, cookies: string[], slug: string) {
  return async (annotator: number, k: number, result: TPathResult) => {
    let t = performance.now();
    const lease = await client.mutation<TLeaseOutput>(cookies[annotator]!, 'annotation.lease', { project: slug, want: 2 });
    result.leaseMs.push(performance.now() - t);
    if (!lease.ok) {
      countError(result, `lease HTTP ${lease.status}: ${lease.error.slice(0, 80)}`);
      return sleep(50);
    }
    const item = lease.data.items[0];
    if (!item) {
      result.dry++;
      return sleep(100);
    }
    const input: TSubmitInput = {
      handle: item.handle,
      clientSubmissionId: randomUUID(),
      chosenPosition: (annotator + k) % 2,
      strength: strengths[(annotator + k) % 4]!,
      timeSpentMs: 1000 + ((annotator * 31 + k * 7) % 20_000),
    };
    t = performance.now();
    const submit = await client.mutation<{ judgmentId: number }>(cookies[annotator]!, 'annotation.submit', input);
    result.submitMs.push(performance.now() - t);
    if (!submit.ok) return void countError(result, `submit HTTP ${submit.status}: ${submit.error.slice(0, 80)}`);
    result.acknowledged.push(input.clientSubmissionId);
    result.cycles++;
  };
}

function rawCycle(sql: postgres.Sql, projectId: number, goldRate: number, annotatorIds: number[]) {
  return async (annotator: number, k: number, result: TPathResult) => {
    let t = performance.now();
    let items;
    try {
      items = await rawLease(sql, { projectId, annotatorId: annotatorIds[annotator]!, leaseSeconds: 900, want: 2, goldRate });
    } catch (error) {
      countError(result, `lease: ${(error as Error).message.slice(0, 80)}`);
      return sleep(50);
    } finally {
      result.leaseMs.push(performance.now() - t);
    }
    const item = items[0];
    if (!item) {
      result.dry++;
      return sleep(100);
    }
    t = performance.now();
    try {
      const id = await rawSubmit(sql, {
        annotatorId: annotatorIds[annotator]!,
        assignmentId: item.assignmentId,
        chosenPosition: (annotator + k) % 2,
        strength: strengths[(annotator + k) % 4]!,
        timeSpentMs: 1000 + ((annotator * 31 + k * 7) % 20_000),
      });
      result.acknowledged.push(id);
      result.cycles++;
    } catch (error) {
      countError(result, `submit: ${(error as Error).message.slice(0, 80)}`);
    } finally {
      result.submitMs.push(performance.now() - t);
    }
  };
}

const violationsOf = (i: TIntegrity) => i.lost + i.duplicated + i.overQuota + i.countDrift;

function pathJson(r: TPathResult, integrity: TIntegrity) {
  return {
    cycles: r.cycles,
    seconds: round(r.seconds, 2),
    cycles_per_s: round(r.cyclesPerS),
    lease_p50_ms: round(percentile(r.leaseMs, 50)),
    lease_p95_ms: round(percentile(r.leaseMs, 95)),
    lease_p99_ms: round(percentile(r.leaseMs, 99)),
    submit_p50_ms: round(percentile(r.submitMs, 50)),
    submit_p95_ms: round(percentile(r.submitMs, 95)),
    submit_p99_ms: round(percentile(r.submitMs, 99)),
    client_cpu_ms_per_cycle: r.cycles ? round(r.clientCpuMs / r.cycles, 2) : null,
    errors: r.errors,
    dry_leases: r.dry,
    judgments_stored: integrity.judgments,
    lost: integrity.lost,
    duplicated: integrity.duplicated,
    over_quota: integrity.overQuota,
    count_drift: integrity.countDrift,
  };
}

export async function run(argv: string[] = process.argv.slice(3)): Promise<void> {
  const scenarios = parseArgs(argv);
  const maxAnnotators = Math.max(...scenarios.map((s) => s.annotators));

  // Undone in reverse order on success, failure, Ctrl-C or SIGTERM.
  const cleanups: (() => Promise<unknown>)[] = [];
  let cleaning: Promise<void> | null = null;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (const undo of cleanups.reverse()) await undo().catch((e: Error) => console.error(`clean-up: ${e.message}`));
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the app and dropping the bench databases…`);
    void cleanUp().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    let serverUrl = process.env.TEST_DATABASE_URL;
    if (!serverUrl) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-bench-load-pg-'));
      fs.chmodSync(dir, 0o755);
      const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'postgres'), password: 'bench' });
      cleanups.push(async () => {
        await server.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      serverUrl = server.url;
    }
    const stamp = Date.now();
    const webDatabase = `pairwise_bench_load_${stamp}`;
    const rawDatabase = `pairwise_bench_load_raw_${stamp}`;
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    cleanups.push(async () => {
      for (const name of [webDatabase, rawDatabase]) await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    });
    const urlOf = (name: string) => {
      const u = new URL(serverUrl);
      u.pathname = `/${name}`;
      return u.toString();
    };
    const webUrl = urlOf(webDatabase);
    const rawUrl = urlOf(rawDatabase);

    console.log(`load bench: ${scenarios.map((s) => `${s.name} (${s.annotators} annotators, think ${s.thinkMs} ms, ${s.seconds} s)`).join('; ')}`);
    console.log(`building the projects (${serverUrl === process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL server' : 'embedded PostgreSQL'})…`);
    await admin.unsafe(`create database ${webDatabase}`);
    await prepareDatabase(webUrl);
    const setup = createDb(webUrl, { max: 2, applicationName: 'pairwise-bench-load' });
    const projects = new Map<string, { slug: string; id: number; comparisons: number }>();
    try {
      await insertAnnotators(setup.db, maxAnnotators);
      for (const s of scenarios) {
        const slug = `load-${s.name}`;
        const comparisons = comparisonsFor(s);
        const id = await buildLoadProject(setup.db, { slug, comparisons, annotators: s.annotators, judgmentsRequired: JUDGMENTS_REQUIRED });
        projects.set(s.name, { slug, id, comparisons });
        console.log(`  ${slug}: ${comparisons} comparisons, ${JUDGMENTS_REQUIRED} judgments each`);
      }
      await setup.sql`analyze`;
    } finally {
      await setup.close();
    }
    // The raw half works on an identical copy, made before the app opens connections to the original.
    await admin.unsafe(`create database ${rawDatabase} template ${webDatabase}`);
    const webCounter = await statementCounter(webUrl);
    cleanups.push(() => webCounter.close());

    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-bench-load-'));
    fs.chmodSync(dataDir, 0o755);
    cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    console.log('starting the app (builds first when the sources changed)…');
    const appEnv: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: webUrl,
      PAIRWISE_DATA_DIR: dataDir,
      // Every annotator signs in from this one address: the per-address lock-out must not trip on it.
      PAIRWISE_SIGNIN_ADDRESS_FAILURES: process.env.PAIRWISE_SIGNIN_ADDRESS_FAILURES ?? '1000000',
    };
    let app: TRunningApp;
    try {
      // A production build on a busy two-core machine can take many minutes.
      app = await startApp({ env: appEnv, timeoutMs: 30 * 60_000 });
    } catch (error) {
      stopLaunchersStartedHere();
      throw error;
    }
    cleanups.push(async () => {
      const code = await app.stop();
      if (code !== 0) console.error(`the app exited with code ${code}:\n${app.output().slice(-2000)}`);
    });
    const web = webPid(app.child.pid!);
    const client = new LoadClient(app.baseUrl, maxAnnotators + 8);
    cleanups.push(async () => client.close());

    // The worker (job queue polling) runs against the same database: its own rate is subtracted.
    await sleep(webCounter.settleMs);
    const baselineWindowMs = Math.max(5_000, webCounter.settleMs);
    const b0 = await webCounter.read();
    await sleep(baselineWindowMs);
    const backgroundPerMs = ((await webCounter.read()) - b0) / baselineWindowMs;

    const cookies: string[] = [];
    const signInUpTo = async (n: number) => {
      if (cookies.length >= n) return;
      const t = performance.now();
      const from = cookies.length;
      let next = from;
      const signed: string[] = new Array(n - from);
      await Promise.all(
        Array.from({ length: SIGN_IN_CONCURRENCY }, async () => {
          while (next < n) {
            const i = next++;
            signed[i - from] = await client.signIn(loadEmail(i), LOAD_PASSWORD);
          }
        }),
      );
      cookies.push(...signed);
      console.log(`signed in annotators ${from}..${n - 1} over HTTP in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    };

    const rawSql = postgres(rawUrl, { max: WEB_POOL, onnotice: () => {}, connection: { application_name: 'pairwise-bench-load-raw' } });
    const rawAnnotators = (await rawSql`select id from users where email like 'load%@bench.local' order by id`).map((r) => Number(r.id));
    const [{ gold_rate: goldRate }] = (await rawSql`select gold_rate from projects limit 1`) as unknown as [{ gold_rate: number }];
    await rawSql.end({ timeout: 5 });
    const check = createDb(webUrl, { max: 1, applicationName: 'pairwise-bench-load' });
    cleanups.push(() => check.close());
    const rawCheck = createDb(rawUrl, { max: 1, applicationName: 'pairwise-bench-load' });
    cleanups.push(() => rawCheck.close());

    const reports: Record<string, unknown>[] = [];
    for (const s of scenarios) {
      const project = projects.get(s.name)!;
      await signInUpTo(s.annotators);

      console.log(`\n${s.name}: ${s.annotators} annotators over HTTP for ${s.seconds} s…`);
      await sleep(webCounter.settleMs);
      const t0 = performance.now();
      const x0 = await webCounter.read();
      const cpu0 = treeCpuMs(web);
      const http = await drive(s, httpCycle(client, cookies, project.slug));
      const cpu1 = treeCpuMs(web);
      await sleep(webCounter.settleMs);
      const x1 = await webCounter.read();
      const webStatements = x1 - x0 - backgroundPerMs * (performance.now() - t0);
      const httpIntegrity = await checkIntegrity(check.db, project.id, http.acknowledged);

      console.log(`${s.name}: the same ${s.annotators} loops on raw SQL (postgres.js pool of ${WEB_POOL})…`);
      const rawCounter = await statementCounter(rawUrl);
      const r0 = await rawCounter.read();
      const pool = postgres(rawUrl, { max: WEB_POOL, onnotice: () => {}, connection: { application_name: 'pairwise-bench-load-raw' } });
      const raw = await drive(s, rawCycle(pool, project.id, goldRate, rawAnnotators));
      // Closing the pool makes its backends report their counters now rather than when idle.
      await pool.end({ timeout: 5 });
      if (rawCounter.kind === 'transactions') await sleep(1_000);
      const rawStatements = (await rawCounter.read()) - r0;
      await rawCounter.close();
      const rawIntegrity = await checkIntegrity(rawCheck.db, project.id, raw.acknowledged);

      const ratio = raw.cyclesPerS > 0 ? http.cyclesPerS / raw.cyclesPerS : NaN;
      const webCpuPerCycle = http.cycles ? (cpu1 - cpu0) / http.cycles : NaN;
      const statementsPerCycle = http.cycles ? webStatements / http.cycles : NaN;
      const rawStatementsPerCycle = raw.cycles ? rawStatements / raw.cycles : NaN;
      const violations = violationsOf(httpIntegrity) + violationsOf(rawIntegrity);
      const label = webCounter.kind === 'statements' ? 'SQL statements / cycle' : 'transactions / cycle (pg_stat_database)';
      const cell = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-').padStart(12);
      const pct = (values: number[]) => [50, 95, 99].map((p) => percentile(values, p).toFixed(1)).join(' / ');
      const errorLine = (r: TPathResult) => (Object.keys(r.errors).length ? Object.entries(r.errors).map(([k, n]) => `${n}x ${k}`).join('; ') : 'none');
      console.log(
        [
          '',
          `${s.name}: ${s.annotators} annotators, think ${s.thinkMs} ms, ${s.seconds} s; ${project.comparisons} comparisons x ${JUDGMENTS_REQUIRED} judgments; web pool = raw pool = ${WEB_POOL}`,
          `${''.padEnd(42)} ${'web (HTTP)'.padStart(22)} ${'raw SQL'.padStart(22)}`,
          `${'cycles (lease + submit)'.padEnd(42)} ${String(http.cycles).padStart(22)} ${String(raw.cycles).padStart(22)}`,
          `${'cycles / s'.padEnd(42)} ${http.cyclesPerS.toFixed(1).padStart(22)} ${raw.cyclesPerS.toFixed(1).padStart(22)}   ratio web/raw ${Number.isFinite(ratio) ? ratio.toFixed(3) : '-'}`,
          `${'lease ms p50 / p95 / p99'.padEnd(42)} ${pct(http.leaseMs).padStart(22)} ${pct(raw.leaseMs).padStart(22)}`,
          `${'submit ms p50 / p95 / p99'.padEnd(42)} ${pct(http.submitMs).padStart(22)} ${pct(raw.submitMs).padStart(22)}`,
          `${'web process CPU ms / cycle'.padEnd(42)} ${cell(webCpuPerCycle, 2).padStart(22)} ${'-'.padStart(22)}`,
          `${'bench client CPU ms / cycle'.padEnd(42)} ${cell(http.cycles ? http.clientCpuMs / http.cycles : NaN, 2).padStart(22)} ${cell(raw.cycles ? raw.clientCpuMs / raw.cycles : NaN, 2).padStart(22)}`,
          `${label.padEnd(42)} ${cell(statementsPerCycle, 2).padStart(22)} ${cell(rawStatementsPerCycle, 2).padStart(22)}`,
          `${'judgments stored'.padEnd(42)} ${String(httpIntegrity.judgments).padStart(22)} ${String(rawIntegrity.judgments).padStart(22)}`,
          `${'lost / duplicated / over quota / drift'.padEnd(42)} ${[httpIntegrity.lost, httpIntegrity.duplicated, httpIntegrity.overQuota, httpIntegrity.countDrift].join(' / ').padStart(22)} ${[rawIntegrity.lost, rawIntegrity.duplicated, rawIntegrity.overQuota, rawIntegrity.countDrift].join(' / ').padStart(22)}`,
          `${'empty leases'.padEnd(42)} ${String(http.dry).padStart(22)} ${String(raw.dry).padStart(22)}`,
          `errors, web: ${errorLine(http)}`,
          `errors, raw: ${errorLine(raw)}`,
          ...(violations > 0 ? [`INTEGRITY VIOLATIONS: ${violations}`] : []),
        ].join('\n'),
      );
      reports.push({
        name: s.name,
        annotators: s.annotators,
        think_ms: s.thinkMs,
        seconds: s.seconds,
        comparisons: project.comparisons,
        cycles_per_s: round(http.cyclesPerS),
        ratio_to_raw: Number.isFinite(ratio) ? round(ratio, 3) : null,
        lease_p99_ms: round(percentile(http.leaseMs, 99)),
        submit_p99_ms: round(percentile(http.submitMs, 99)),
        web_cpu_ms_per_cycle: Number.isFinite(webCpuPerCycle) ? round(webCpuPerCycle, 2) : null,
        statements_per_cycle: Number.isFinite(statementsPerCycle) ? round(statementsPerCycle, 2) : null,
        raw_statements_per_cycle: Number.isFinite(rawStatementsPerCycle) ? round(rawStatementsPerCycle, 2) : null,
        statements_metric: webCounter.kind,
        violations,
        web: pathJson(http, httpIntegrity),
        raw: pathJson(raw, rawIntegrity),
      });
    }

    const headline = reports.find((r) => r.name === 'n200') ?? reports[0]!;
    console.log(
      JSON.stringify({
        bench: 'load',
        cycles_per_s: headline.cycles_per_s,
        ratio_to_raw: headline.ratio_to_raw,
        lease_p99_ms: headline.lease_p99_ms,
        submit_p99_ms: headline.submit_p99_ms,
        web_cpu_ms_per_cycle: headline.web_cpu_ms_per_cycle,
        statements_per_cycle: headline.statements_per_cycle,
        statements_metric: headline.statements_metric,
        violations: headline.violations,
        scenarios: reports,
      }),
    );
  } finally {
    await cleanUp();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
