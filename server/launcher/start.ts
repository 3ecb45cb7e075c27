/**
 * `npm start`: the whole platform in one command.
 *   1. the database: DATABASE_URL, or the embedded PostgreSQL under .data/postgres;
 *   2. migrations, the job queue, and on a fresh installation the demo project and accounts;
 *   3. a production build of the web app when the sources changed since the last one;
 *   4. the web app (next start) and the worker, as child processes;
 * keeps them running (a process or embedded database that dies is started again, with backoff),
 * and on Ctrl-C (or SIGTERM) stops them in order: web and worker, then the database.
 * `npm run dev` does the same with `next dev` instead of a production build.
 * Flags: --dev (next dev), --demo (seed the demo data into an empty DATABASE_URL database too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { createDb } from '@/db/client';
import { dataDir, env } from '../env';
import { isEmptyInstallation, seedDemo, type TDemoAccount } from '../setup/seed-demo';
import { loadSecrets, prepareDatabase, resolveDatabase, type TDatabaseLease } from '../setup/installation';
import { buildIsCurrent, recordBuild, sourceFingerprint, withBuildLock } from './build-fingerprint';
import { describeExit, nextRestartDelay, supervise, type TSupervised } from './supervisor';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const nextBin = require.resolve('next/dist/bin/next');
const dev = process.argv.includes('--dev');
// Seed the demo project into an empty database even when DATABASE_URL is set (used by the e2e tests).
const forceDemo = process.argv.includes('--demo');
const log = (line: string) => console.log(`[pairwise] ${line}`);
/** Undoes what has been started so far; replaced as main() starts things. */
let cleanUp: () => Promise<void> = async () => {};

function run(command: string, args: string[], childEnv: NodeJS.ProcessEnv, name: string): ChildProcess {
  const child = spawn(command, args, { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream) => {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function waitForHealth(port: number, web: TSupervised, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (web.restarts() > 0 || web.current().exitCode !== null) throw new Error('the web app exited during start-up');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/health`);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the web app did not answer /api/health within ${timeoutMs / 1000} s`);
}

/** How long stopping waits for the web app and the worker before killing them. */
const STOP_LIMIT_MS = 12_000;

/** Starts the embedded PostgreSQL again when it dies, with the same backoff as the other processes. */
function watchDatabase(server: NonNullable<TDatabaseLease['server']>, stopping: () => boolean): void {
  let delay = 0;
  let startedAt = Date.now();
  const restart = async () => {
    if (stopping()) return;
    try {
      await server.restart();
      startedAt = Date.now();
      log('PostgreSQL is running again');
    } catch (error) {
      delay = nextRestartDelay(delay, 0);
      log(`PostgreSQL did not start (${(error as Error).message.split('\n')[0]}); trying again in ${delay / 1000} s`);
      setTimeout(() => void restart(), delay);
    }
  };
  server.onExit((code, signal) => {
    if (stopping()) return;
    delay = nextRestartDelay(delay, Date.now() - startedAt);
    log(`PostgreSQL stopped unexpectedly (${describeExit(code, signal)}); restarting in ${delay / 1000} s`);
    setTimeout(() => void restart(), delay);
  });
}

/** Fails early, with a clear message, when something else already listens on the port. */
async function assertPortFree(port: number): Promise<void> {
  const net = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} is already in use (another Pairwise running?); stop it or set PORT`) : error),
    );
    server.listen(port, () => server.close(() => resolve()));
  });
}

async function main() {
  const started = Date.now();
  const data = dataDir();
  const { PORT: port } = env();

  await assertPortFree(port);
  const database = await resolveDatabase(data, log);
  log(database.embedded ? `embedded PostgreSQL ${database.owned ? 'started' : 'reused'} (data in ${path.relative(root, path.join(data, 'postgres'))})` : 'using DATABASE_URL');

  cleanUp = async () => {
    if (database.owned) await database.stop();
  };
  const children: ChildProcess[] = [];
  const supervised: TSupervised[] = [];
  let stopping = false;
  const stopAll = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the web app and the worker…`);
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    const timeout = setTimeout(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')), STOP_LIMIT_MS);
    await Promise.all([...children.map(exited), ...supervised.map((s) => s.stop(STOP_LIMIT_MS))]);
    clearTimeout(timeout);
    if (database.owned) {
      log('stopping PostgreSQL…');
      await database.stop();
    }
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stopAll('SIGINT'));
  process.on('SIGTERM', () => void stopAll('SIGTERM'));

  await prepareDatabase(database.url);
  let demoAccounts: TDemoAccount[] | null = null;
  const credentialsFile = path.join(data, 'demo-credentials.txt');
  if (database.embedded || forceDemo) {
    const handle = createDb(database.url, { max: 2 });
    try {
      if (await isEmptyInstallation(handle.db)) demoAccounts = await seedDemo(handle.db, credentialsFile);
    } finally {
      await handle.close();
    }
  }

  const authSecret = process.env.AUTH_SECRET ?? (await loadSecrets(data)).authSecret;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: database.url,
    AUTH_SECRET: authSecret,
    PAIRWISE_DATA_DIR: data,
    PORT: String(port),
    NEXT_TELEMETRY_DISABLED: '1',
  };

  if (!dev) {
    const fingerprint = await sourceFingerprint(root);
    await withBuildLock(
      root,
      async () => {
        // Checked again under the lock: another launcher may have just built these sources.
        if (buildIsCurrent(root, fingerprint)) return;
        log('building the web app (first start, or the sources changed)…');
        const build = run(process.execPath, [nextBin, 'build'], { ...childEnv, NODE_ENV: 'production' }, 'build');
        children.push(build);
        const code = await exited(build);
        children.splice(children.indexOf(build), 1);
        if (stopping) return;
        if (code !== 0) {
          children.length = 0;
          throw new Error(`next build failed (exit code ${code})`);
        }
        await recordBuild(root, fingerprint);
      },
      () => log('waiting for another build of this checkout to finish…'),
    );
    if (stopping) return;
  }

  // The database, the web app and the worker are kept running: one that dies is started again
  // while the others go on (they reconnect to the database by themselves). Only Ctrl-C or
  // SIGTERM stops everything.
  if (database.server) watchDatabase(database.server, () => stopping);
  const web = supervise(
    'the web app',
    () =>
      dev
        ? run(process.execPath, [nextBin, 'dev', '-p', String(port)], { ...childEnv, PAIRWISE_PROCESS: 'pairwise-web' }, 'web')
        : run(process.execPath, [nextBin, 'start', '-p', String(port)], { ...childEnv, NODE_ENV: 'production', PAIRWISE_PROCESS: 'pairwise-web' }, 'web'),
    log,
  );
  const worker = supervise(
    'the worker',
    () => run(process.execPath, ['--import', 'tsx', path.join(root, 'workers', 'index.ts')], { ...childEnv, PAIRWISE_PROCESS: 'pairwise-worker' }, 'worker'),
    log,
  );
  supervised.push(web, worker);

  await waitForHealth(port, web, dev ? 180_000 : 60_000);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log(`ready in ${seconds} s: http://localhost:${port}`);
  if (demoAccounts) {
    log('demo accounts (shown once; also in .data/demo-credentials.txt):');
    for (const a of demoAccounts) console.log(`    ${a.role.padEnd(9)} ${a.email}  ${a.password}`);
  }
  log('Ctrl-C stops everything');
}

main().catch(async (error) => {
  console.error('[pairwise] start failed:', error instanceof Error ? error.message : error);
  await cleanUp().catch(() => {});
  process.exit(1);
});
