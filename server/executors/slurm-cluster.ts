import type { TConnectionCheck, TExecutorQueue } from './executors';
import type { TSlurmExecutorConfig } from './schemas';
import { lastLines, preamble, slurmShell, type TSlurmShell } from './slurm-shell';

/**
 * The connection test of a Slurm executor, in one round trip to the submit host: the Slurm
 * version, its partitions with their nodes, GPUs and queue (sinfo, squeue), and `sbatch
 * --test-only` with the executor's own partition, account, QOS, time and memory, which asks the
 * controller whether it would take such a job without submitting one.
 */

const sections = ['version', 'nodes', 'queue', 'test'] as const;

/** Options of the trial job: what every run's batch script asks for, minus GPUs (a partition without them must still pass). */
export function testOnlyOptions(config: TSlurmExecutorConfig): string[] {
  const options = ['--test-only', '--nodes=1', '--ntasks-per-node=1', '--job-name=pairwise-connection-test'];
  if (config.partition) options.push(`--partition=${config.partition}`);
  if (config.account) options.push(`--account=${config.account}`);
  if (config.qos) options.push(`--qos=${config.qos}`);
  if (config.cpusPerNode) options.push(`--cpus-per-task=${config.cpusPerNode}`);
  if (config.memory) options.push(`--mem=${config.memory}`);
  if (config.timeLimit) options.push(`--time=${config.timeLimit}`);
  return options;
}

function gpuCount(gres: string | undefined): number {
  // "gpu:8", "gpu:h100:8(S:0-1)", "gpu:a100:4,shard:8", "(null)"
  let total = 0;
  for (const item of (gres ?? '').split(/,(?![^(]*\))/)) {
    const match = /^gpu(?::[^:(]+)?:(\d+)/.exec(item.trim());
    if (match) total += Number(match[1]);
  }
  return total;
}

/**
 * Partitions from `sinfo -N` lines (node|partition|gres|gres used|state|cpus A/I/O/T|avail|time
 * limit) and `squeue` lines (partition|state). A node in several partitions counts in each.
 */
export function slurmQueues(nodeLines: string[], queueLines: string[]): TExecutorQueue[] {
  const byName = new Map<string, TExecutorQueue>();
  for (const line of nodeLines) {
    const [node, rawPartition, gres, gresUsed, state = '', cpus = '', avail = '', timeLimit = ''] = line.split('|').map((s) => s.trim());
    if (!node || !rawPartition) continue;
    const isDefault = rawPartition.endsWith('*');
    const name = rawPartition.replace(/\*$/, '');
    const queue = byName.get(name) ?? { name, state: avail || 'unknown', isDefault, nodes: 0, idleNodes: 0, gpus: 0, gpusFree: 0, cpus: 0, timeLimit, running: 0, pending: 0 };
    queue.nodes += 1;
    if (/^idle/.test(state)) queue.idleNodes! += 1;
    const gpus = gpuCount(gres);
    queue.gpus! += gpus;
    // A node that is down or drained lends nothing, whatever it has.
    const usable = !/^(down|drain|drng|fail|inval|maint|unk|boot|powered)/.test(state);
    if (usable) queue.gpusFree! += Math.max(0, gpus - gpuCount(gresUsed));
    queue.cpus! += Number(cpus.split('/')[3] ?? 0) || 0;
    byName.set(name, queue);
  }
  for (const line of queueLines) {
    const [partitions = '', state = ''] = line.split('|').map((s) => s.trim());
    // A pending job may name several partitions ("gpu,debug").
    for (const name of partitions.split(',')) {
      const queue = byName.get(name);
      if (!queue) continue;
      if (state === 'RUNNING') queue.running! += 1;
      else if (state === 'PENDING') queue.pending! += 1;
    }
  }
  // The default partition first, then by name: the order sinfo lists them in varies.
  return [...byName.values()]
    .sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.name.localeCompare(b.name))
    .map((q) => (q.gpus ? q : { ...q, gpus: undefined, gpusFree: undefined }));
}

function split(stdout: string): Record<(typeof sections)[number], string[]> {
  const out = { version: [], nodes: [], queue: [], test: [] } as Record<(typeof sections)[number], string[]>;
  let current: (typeof sections)[number] | null = null;
  for (const line of stdout.split('\n')) {
    const marker = /^::(\w+)$/.exec(line);
    if (marker && (sections as readonly string[]).includes(marker[1]!)) {
      current = marker[1] as (typeof sections)[number];
      continue;
    }
    if (current && line.trim()) out[current].push(line);
  }
  return out;
}

export async function checkSlurmCluster(
  config: TSlurmExecutorConfig,
  options: { env?: Record<string, string | undefined>; shell?: TSlurmShell } = {},
): Promise<{ checks: TConnectionCheck[]; queues?: TExecutorQueue[] }> {
  let shell: TSlurmShell;
  try {
    shell = options.shell ?? slurmShell(config, { env: options.env });
  } catch (error) {
    return { checks: [{ check: 'submit host', ok: false, detail: (error as Error).message }] };
  }
  const script = [
    preamble(config),
    'echo ::version',
    'sinfo --version 2>&1',
    'echo ::nodes',
    "sinfo --noheader --Node --Format='NodeList:|,Partition:|,Gres:|,GresUsed:|,StateLong:|,CPUsState:|,Available:|,Time:' 2>&1",
    'echo ::queue',
    "squeue --noheader --states=PENDING,RUNNING --format='%P|%T' 2>&1",
    'echo ::test',
    // --test-only answers on stderr, and exits 1 for a job the controller would refuse.
    `printf '#!/bin/sh\\ntrue\\n' | sbatch ${testOnlyOptions(config).join(' ')} 2>&1; echo "exit $?"`,
  ].join('\n');
  let stdout: string;
  try {
    const result = await shell.run(script, { stdin: '' });
    stdout = result.stdout;
    if (!stdout.includes('::version')) return { checks: [{ check: 'submit host', ok: false, detail: `${shell.where}: ${lastLines(result.stderr) || `exit ${result.code}`}` }] };
  } catch (error) {
    return { checks: [{ check: 'submit host', ok: false, detail: (error as Error).message }] };
  }
  const parts = split(stdout);
  const checks: TConnectionCheck[] = [];
  const version = parts.version.join(' ').trim();
  // "slurm 23.11.4"; Debian's build says "slurm-wlm 22.05.8".
  const slurmAnswers = /^slurm(-wlm)? \d/i.test(version);
  checks.push({ check: 'Slurm', ok: slurmAnswers, detail: slurmAnswers ? `${version} on ${shell.where}` : `${shell.where}: ${version || 'sinfo did not answer'}` });
  if (!slurmAnswers) return { checks };
  const nodeLines = parts.nodes.filter((l) => l.includes('|'));
  const nodesOk = nodeLines.length > 0;
  const queues = nodesOk ? slurmQueues(nodeLines, parts.queue.filter((l) => l.includes('|'))) : undefined;
  // sinfo --Node lists a node once per partition it is in.
  const nodeCount = new Set(nodeLines.map((l) => l.split('|')[0]!.trim())).size;
  checks.push({ check: 'partitions', ok: nodesOk, detail: nodesOk ? `${queues!.length} partition(s), ${nodeCount} node(s)` : lastLines(parts.nodes.join('\n')) || 'sinfo listed no nodes' });
  if (queues && config.partition && !queues.some((q) => q.name === config.partition)) {
    checks.push({ check: 'partition', ok: false, detail: `no partition ${config.partition} (this cluster has ${queues.map((q) => q.name).join(', ')})` });
  }
  const testLines = parts.test;
  const exit = /^exit (\d+)$/.exec(testLines.at(-1) ?? '')?.[1];
  const answer = lastLines(testLines.slice(0, -1).join('\n'), 2)
    .replace(/^sbatch: /, '')
    .replace(/ sbatch: /g, ' ')
    // Times are epochs here (SLURM_TIME_FORMAT=%s): say them as dates.
    .replace(/\bto start at (\d{9,})\b/, (_, epoch: string) => `to start at ${new Date(Number(epoch) * 1000).toISOString().replace('.000Z', 'Z')}`);
  checks.push({ check: 'trial job (sbatch --test-only)', ok: exit === '0', detail: answer || `exit ${exit ?? 'unknown'}` });
  return { checks, ...(queues ? { queues } : {}) };
}
