import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findFreePort } from '@/db/embedded';

/**
 * A real Slurm cluster on this machine for the tests: munged, slurmctld, and two slurmd daemons
 * (nodes pw0 and pw1, both at 127.0.0.1, each on a port of its own) with two GPUs each declared
 * through gres (character devices that are /dev/null under other names: Slurm schedules them as
 * GPUs; no program can compute on them). Everything lives in one temporary folder with a slurm.conf of its own and
 * ports nobody else uses; `stop` ends every daemon it started. Needs root (slurmd starts jobs as
 * their users) and Debian's slurm-wlm and munge.
 */

export interface TSlurmCluster {
  dir: string;
  conf: string;
  /** Environment for Slurm's commands run by the test itself. */
  env: Record<string, string>;
  nodes: string[];
  gpusPerNode: number;
  /** Runs a Slurm command against this cluster. */
  command(program: string, args: string[]): string;
  stop(): Promise<void>;
}

const binaries = { munged: '/usr/sbin/munged', slurmctld: '/usr/sbin/slurmctld', slurmd: '/usr/sbin/slurmd', sbatch: '/usr/bin/sbatch' };

/** The MariaDB/MySQL server slurmdbd keeps accounting in: the machine's, as root without a password. */
const accountingDatabase = { host: '127.0.0.1', port: 3306, user: 'root' };

/** Why this machine cannot run the cluster with accounting (slurmdbd and its database), or null when it can. */
export function accountingUnavailable(): string | null {
  if (!fs.existsSync('/usr/sbin/slurmdbd')) return 'slurmdbd is not installed: apt-get install -y slurmdbd';
  const probe = spawnSync('mysql', ['-h', accountingDatabase.host, '-P', String(accountingDatabase.port), '-u', accountingDatabase.user, '-e', 'select 1'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) return `no MariaDB/MySQL server for slurmdbd at ${accountingDatabase.host}:${accountingDatabase.port} (user root, no password): ${(probe.stderr || probe.error?.message || '').trim()}`;
  return null;
}

/** Why this machine cannot run the cluster, or null when it can. */
export function slurmUnavailable(): string | null {
  const missing = Object.values(binaries).filter((b) => !fs.existsSync(b));
  if (missing.length) return `Slurm is not installed (${missing.join(', ')} missing): apt-get install -y slurm-wlm munge`;
  if (process.getuid?.() !== 0) return 'the Slurm test cluster needs root (slurmd starts jobs as their users)';
  return null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pidOf(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export interface TSlurmClusterOptions {
  minJobAgeSeconds?: number;
  /**
   * Accounting through slurmdbd into a database of its own on the machine's MariaDB: sacct
   * answers, GPUs are accounted (AccountingStorageTRES=gres/gpu), and jobs must name an account
   * the user belongs to (AccountingStorageEnforce=associations): root is in `post-training`.
   */
  accounting?: boolean;
}

export async function startSlurmCluster(options: TSlurmClusterOptions = {}): Promise<TSlurmCluster> {
  const why = slurmUnavailable() ?? (options.accounting ? accountingUnavailable() : null);
  if (why) throw new Error(why);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-slurm-'));
  fs.chmodSync(dir, 0o755);
  for (const sub of ['state', 'log', 'spool/pw0', 'spool/pw1', 'dev', 'munge']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.chmodSync(path.join(dir, 'munge'), 0o700);
  const gpusPerNode = 2;
  // slurmd wants GPU files to be character devices: these are /dev/null's (1, 3) under other names.
  for (let i = 0; i < gpusPerNode; i++) execFileSync('mknod', [path.join(dir, 'dev', `nvidia${i}`), 'c', '1', '3']);
  const socket = path.join(dir, 'munge', 'munge.socket');
  const key = path.join(dir, 'munge', 'munge.key');
  fs.writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const [ctldPort, node0Port, node1Port, dbdPort] = [await findFreePort(), await findFreePort(), await findFreePort(), await findFreePort()];
  const accountingDb = `pairwise_slurm_${path.basename(dir).replace(/[^A-Za-z0-9]/g, '_')}`;
  const accounting = options.accounting
    ? [
        'AccountingStorageType=accounting_storage/slurmdbd',
        'AccountingStorageHost=localhost',
        `AccountingStoragePort=${dbdPort}`,
        // For slurmdbd, a path here is the munge socket to reach it through (not a password).
        `AccountingStoragePass=${socket}`,
        'AccountingStorageTRES=gres/gpu',
        'AccountingStorageEnforce=associations',
        'JobAcctGatherType=jobacct_gather/linux',
      ]
    : ['AccountingStorageType=accounting_storage/none', 'JobAcctGatherType=jobacct_gather/none'];
  const host = os.hostname().split('.')[0]!;
  const conf = path.join(dir, 'slurm.conf');
  const nodes = ['pw0', 'pw1'];
  fs.writeFileSync(
    conf,
    [
      'ClusterName=pairwise-test',
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      `AuthInfo=socket=${socket}`,
      'CredType=cred/munge',
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool/%n`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd-%n.pid`,
      `SlurmctldLogFile=${dir}/log/slurmctld.log`,
      `SlurmdLogFile=${dir}/log/slurmd-%n.log`,
      // No cgroups in a container: processes are tracked by their parents, tasks are not bound.
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core_Memory',
      'SchedulerType=sched/backfill',
      'GresTypes=gpu',
      ...accounting,
      'JobCompType=jobcomp/none',
      'MpiDefault=none',
      'MailProg=/bin/true',
      'ReturnToService=2',
      // Finished jobs are forgotten quickly, so the tests also see a job that has left Slurm's memory.
      `MinJobAge=${options.minJobAgeSeconds ?? 300}`,
      'KillWait=5',
      'InactiveLimit=0',
      'SlurmctldTimeout=30',
      'SlurmdTimeout=60',
      `NodeName=pw0 NodeHostname=${host} NodeAddr=127.0.0.1 Port=${node0Port} CPUs=1 RealMemory=4000 Gres=gpu:${gpusPerNode} State=UNKNOWN`,
      `NodeName=pw1 NodeHostname=${host} NodeAddr=127.0.0.1 Port=${node1Port} CPUs=1 RealMemory=4000 Gres=gpu:${gpusPerNode} State=UNKNOWN`,
      'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
      'PartitionName=long Nodes=ALL MaxTime=2-00:00:00 State=UP',
      '',
    ].join('\n'),
  );
  if (options.accounting) {
    // slurmdbd reads slurmdbd.conf beside slurm.conf, and refuses one that others can read.
    fs.writeFileSync(
      path.join(dir, 'slurmdbd.conf'),
      [
        'AuthType=auth/munge',
        `AuthInfo=socket=${socket}`,
        'DbdHost=localhost',
        'DbdAddr=127.0.0.1',
        `DbdPort=${dbdPort}`,
        'SlurmUser=root',
        `LogFile=${dir}/log/slurmdbd.log`,
        `PidFile=${dir}/slurmdbd.pid`,
        'StorageType=accounting_storage/mysql',
        `StorageHost=${accountingDatabase.host}`,
        `StoragePort=${accountingDatabase.port}`,
        `StorageUser=${accountingDatabase.user}`,
        `StorageLoc=${accountingDb}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  }
  fs.writeFileSync(path.join(dir, 'gres.conf'), `AutoDetect=off\nNodeName=pw[0-1] Name=gpu File=${dir}/dev/nvidia[0-${gpusPerNode - 1}]\n`);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', SLURM_CONF: conf };
  const daemonEnv = env as unknown as NodeJS.ProcessEnv;
  const started: string[] = [];
  const cluster: TSlurmCluster = {
    dir,
    conf,
    env,
    nodes,
    gpusPerNode,
    command(program, args) {
      return execFileSync(program, args, { env: daemonEnv, encoding: 'utf8', timeout: 30_000 });
    },
    async stop() {
      // Jobs still running would outlive their slurmd (slurmstepd is a process of its own).
      try {
        execFileSync('scancel', ['--user', os.userInfo().username], { env: daemonEnv, timeout: 10_000, stdio: 'ignore' });
        await sleep(1000);
      } catch {
        // the controller is already down
      }
      for (const file of [...started].reverse()) {
        const pid = pidOf(file);
        if (pid) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
      }
      // Jobs' processes (slurmstepd and their children) end with their daemons; wait for the pid files' owners.
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && started.some((file) => isAlive(pidOf(file)))) await sleep(200);
      for (const file of started) {
        const pid = pidOf(file);
        if (isAlive(pid)) process.kill(pid!, 'SIGKILL');
      }
      if (options.accounting) spawnSync('mysql', ['-h', accountingDatabase.host, '-P', String(accountingDatabase.port), '-u', accountingDatabase.user, '-e', `drop database if exists ${accountingDb}`], { timeout: 30_000 });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const daemon = (program: string, args: string[], pidFile: string) => {
    const result = spawnSync(program, args, { env: daemonEnv, encoding: 'utf8', timeout: 30_000 });
    started.push(pidFile);
    if (result.status !== 0) throw new Error(`${path.basename(program)} did not start (exit ${result.status}): ${result.stderr}`);
  };
  try {
    daemon(binaries.munged, [`--socket=${socket}`, `--key-file=${key}`, `--pid-file=${dir}/munge/munged.pid`, `--log-file=${dir}/log/munged.log`, `--seed-file=${dir}/munge/munge.seed`, '--force'], `${dir}/munge/munged.pid`);
    if (options.accounting) {
      daemon('/usr/sbin/slurmdbd', [], `${dir}/slurmdbd.pid`);
      await registerAccounting(cluster);
    }
    daemon(binaries.slurmctld, ['-i'], `${dir}/slurmctld.pid`);
    for (const node of nodes) daemon(binaries.slurmd, ['-N', node], `${dir}/slurmd-${node}.pid`);
    await waitForIdleNodes(cluster);
  } catch (error) {
    const logs = ['slurmdbd.log', 'slurmctld.log', 'slurmd-pw0.log'].map((f) => {
      try {
        return `${f}:\n${fs.readFileSync(path.join(dir, 'log', f), 'utf8').split('\n').slice(-15).join('\n')}`;
      } catch {
        return '';
      }
    });
    await cluster.stop();
    throw new Error(`${(error as Error).message}\n${logs.join('\n')}`);
  }
  return cluster;
}

function isAlive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The cluster, an account and root in it, in slurmdbd (which takes a moment to listen). */
async function registerAccounting(cluster: TSlurmCluster): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      cluster.command('sacctmgr', ['-i', 'add', 'cluster', 'pairwise-test']);
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`slurmdbd did not answer sacctmgr within 30 s: ${(error as Error).message}`);
      await sleep(300);
    }
  }
  cluster.command('sacctmgr', ['-i', 'add', 'account', 'post-training', 'cluster=pairwise-test']);
  cluster.command('sacctmgr', ['-i', 'add', 'user', os.userInfo().username, 'account=post-training', 'cluster=pairwise-test']);
}

async function waitForIdleNodes(cluster: TSlurmCluster): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      last = cluster.command('sinfo', ['--noheader', '--Node', '--format=%N %t']);
      // A node is listed once per partition it is in.
      const idle = new Set(last.split('\n').filter((l) => / idle$/.test(l.trim())).map((l) => l.trim().split(' ')[0]));
      if (cluster.nodes.every((n) => idle.has(n))) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(300);
  }
  throw new Error(`the Slurm test cluster's nodes did not come up idle within 30 s: ${last}`);
}

/** Waits until `check` answers something other than null. */
export async function until<T>(what: string, check: () => Promise<T | null>, timeoutMs = 60_000, everyMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}
