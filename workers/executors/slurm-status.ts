import type { TExecutorState, TExecutorStatus } from './types';

/**
 * Slurm's job states read faithfully. The times are seconds since the epoch: every command runs
 * with SLURM_TIME_FORMAT=%s (server/executors/slurm-shell.ts).
 */

const stateOf: Record<string, { state: TExecutorState; says?: string }> = {
  PENDING: { state: 'pending' },
  CONFIGURING: { state: 'pending', says: 'nodes are booting' },
  REQUEUED: { state: 'pending', says: 'requeued' },
  REQUEUE_HOLD: { state: 'pending', says: 'requeued and held' },
  REQUEUE_FED: { state: 'pending', says: 'requeued' },
  RESV_DEL_HOLD: { state: 'pending', says: 'held: its reservation was deleted' },
  RUNNING: { state: 'running' },
  COMPLETING: { state: 'running', says: 'completing (its processes are ending)' },
  SUSPENDED: { state: 'running', says: 'suspended' },
  STOPPED: { state: 'running', says: 'stopped (SIGSTOP)' },
  RESIZING: { state: 'running' },
  SIGNALING: { state: 'running' },
  STAGE_OUT: { state: 'running', says: 'staging out' },
  COMPLETED: { state: 'succeeded' },
  FAILED: { state: 'failed' },
  CANCELLED: { state: 'cancelled', says: 'cancelled' },
  TIMEOUT: { state: 'failed', says: 'reached its time limit (TIMEOUT)' },
  NODE_FAIL: { state: 'failed', says: 'a node failed (NODE_FAIL)' },
  PREEMPTED: { state: 'failed', says: 'preempted by a job of higher priority (PREEMPTED)' },
  OUT_OF_MEMORY: { state: 'failed', says: 'ran out of memory (OUT_OF_MEMORY)' },
  BOOT_FAIL: { state: 'failed', says: 'its node failed to boot (BOOT_FAIL)' },
  DEADLINE: { state: 'failed', says: 'missed its deadline (DEADLINE)' },
  SPECIAL_EXIT: { state: 'failed', says: 'ended with a special exit (SPECIAL_EXIT)' },
  REVOKED: { state: 'cancelled', says: 'revoked by a sibling cluster (REVOKED)' },
};

/** `Key=Value` pairs of `scontrol -o show job` (one line; a value never contains " Key=" of a known shape). */
export function parseScontrol(line: string): Record<string, string> {
  const fields: Record<string, string> = {};
  // Values may contain spaces (Reason, Comment, Command): a field starts where " Name=" does.
  const parts = line.trim().split(/ (?=[A-Za-z][A-Za-z0-9/:_.-]*=)/);
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return fields;
}

function epoch(value: string | undefined): Date | undefined {
  if (!value || !/^\d+$/.test(value) || value === '0') return undefined;
  return new Date(Number(value) * 1000);
}

/** "D-HH:MM:SS", "HH:MM:SS" or "MM:SS" to seconds. */
export function durationSeconds(value: string | undefined): number | undefined {
  const match = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(value ?? '');
  if (!match) return undefined;
  const [, d, h, m, s] = match;
  return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(m) * 60 + Number(s);
}

/** GPUs in a TRES list ("cpu=16,mem=512G,node=2,gres/gpu=16" or "gres/gpu:h100=16"). */
export function tresGpus(tres: string | undefined): number | undefined {
  if (!tres) return undefined;
  let total: number | undefined;
  let typed = 0;
  for (const item of tres.split(',')) {
    const match = /^gres\/gpu(:[^=]+)?=(\d+)$/.exec(item.trim());
    if (!match) continue;
    if (match[1]) typed += Number(match[2]);
    else total = Number(match[2]);
  }
  // The untyped count is the total; typed counts are its parts.
  return total ?? (typed || undefined);
}

/** GPUs per node from a step's or job's TresPerNode ("gres:gpu:2", "gres/gpu:h100:8"). */
export function gpusPerNode(tresPerNode: string | undefined): number | undefined {
  const match = /(?:^|,)gres[:/]gpu(?::[^:,=]+)?[:=](\d+)(?:,|$)/.exec(tresPerNode ?? '');
  return match ? Number(match[1]) : undefined;
}

/** "3:0" (exit code:signal) as a phrase. */
function exitPhrase(exitCode: string | undefined): string | undefined {
  const match = /^(\d+):(\d+)$/.exec(exitCode ?? '');
  if (!match) return undefined;
  const [, code, signal] = match;
  if (signal !== '0') return `killed by signal ${signal}`;
  return code === '0' ? undefined : `exit code ${code}`;
}

function statusFrom(rawState: string, fields: { reason?: string; exitCode?: string; start?: string; end?: string; partition?: string; elapsed?: number; gpus?: number }): TExecutorStatus {
  // sacct writes "CANCELLED by 1000"; scontrol may add flags after a "+".
  const word = rawState.split(/[ +]/)[0]!.toUpperCase();
  const known = stateOf[word];
  if (!known) return { state: 'failed', message: `Slurm reports a state Pairwise does not know: ${rawState}` };
  const status: TExecutorStatus = { state: known.state };
  const startedAt = epoch(fields.start);
  if (startedAt && known.state !== 'pending') status.startedAt = startedAt;
  const finishedAt = epoch(fields.end);
  if (finishedAt && (known.state === 'succeeded' || known.state === 'failed' || known.state === 'cancelled')) status.finishedAt = finishedAt;
  const reason = fields.reason && fields.reason !== 'None' ? fields.reason : undefined;
  const parts: string[] = [];
  if (known.state === 'pending') parts.push(`waiting${fields.partition ? ` in partition ${fields.partition}` : ''}${reason ? `: ${reason}` : ''}`);
  if (known.says) parts.push(known.says);
  if (known.state === 'failed') {
    const exit = exitPhrase(fields.exitCode);
    if (word === 'FAILED') parts.push(`FAILED${exit ? ` (${exit})` : ''}${reason && reason !== 'NonZeroExitCode' ? `: ${reason}` : ''}`);
    else if (exit) parts.push(exit);
  }
  if (word.startsWith('CANCELLED') && rawState.includes(' by ')) parts.push(rawState.slice(rawState.indexOf(' by ') + 1));
  if (parts.length) status.message = parts.join('; ');
  // GPU time as Slurm accounts it: the GPUs allocated (all nodes) times the time the job held them.
  if (fields.gpus !== undefined && fields.elapsed !== undefined) status.gpuSeconds = fields.gpus * fields.elapsed;
  return status;
}

/** A job Slurm still knows (scontrol keeps finished jobs for MinJobAge, 300 s by default). */
export function statusFromScontrol(line: string): TExecutorStatus {
  const f = parseScontrol(line);
  return statusFrom(f.JobState ?? '', {
    reason: f.Reason,
    exitCode: f.ExitCode,
    start: f.StartTime,
    end: f.EndTime,
    partition: f.Partition,
    elapsed: durationSeconds(f.RunTime),
    // Allocated GPUs appear in TRES only where accounting tracks gres/gpu; else the per-node request times the nodes.
    gpus: tresGpus(f.AllocTRES ?? f.TRES) ?? (gpusPerNode(f.TresPerNode) ?? 0) * (Number(f.NumNodes) || 1),
  });
}

/** One line of `sacct -n -P -X -o JobID,State,ExitCode,Start,End,ElapsedRaw,AllocTRES,Reason,Partition`. */
export const sacctFields = 'JobID,State,ExitCode,Start,End,ElapsedRaw,AllocTRES,Reason,Partition';
export function statusFromSacct(line: string): TExecutorStatus {
  const [, state = '', exitCode, start, end, elapsed, tres, reason, partition] = line.split('|');
  return statusFrom(state, { exitCode, start, end, reason, partition, elapsed: elapsed && /^\d+$/.test(elapsed) ? Number(elapsed) : undefined, gpus: tresGpus(tres) ?? 0 });
}

/**
 * A job gone from Slurm's memory, with no accounting to ask: what its batch script recorded. No
 * record means the script never reached its end: cancelled, out of time, or its node died.
 */
export function statusFromRecord(jobId: string, record: string | undefined): TExecutorStatus {
  const [code, mtime] = (record ?? '').trim().split(/\s+/);
  if (!code || !/^\d+$/.test(code)) {
    return { state: 'failed', message: `Slurm job ${jobId} has left the queue without recording an exit status (cancelled, out of time, or its node failed); with accounting on, sacct would say which` };
  }
  const finishedAt = epoch(mtime);
  return code === '0' ? { state: 'succeeded', ...(finishedAt ? { finishedAt } : {}) } : { state: 'failed', message: `exit code ${code}`, ...(finishedAt ? { finishedAt } : {}) };
}
