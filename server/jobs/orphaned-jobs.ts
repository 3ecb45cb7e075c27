import { createHash } from 'node:crypto';
import type PgBoss from 'pg-boss';
import postgres from 'postgres';

/**
 * Jobs whose worker died. pg-boss 10 records no owner for an active job and only fails it when
 * its expiry (15 minutes by default) passes, so a killed worker's export would sit "running"
 * for a quarter of an hour. Each worker therefore holds a PostgreSQL advisory lock per job it
 * runs, on a connection of its own: the server releases those locks the moment that
 * connection dies with the process. An active job that no session holds a lock for has no
 * living worker, and is failed at once so that pg-boss retries it after the queue's delay.
 */

/** The first key of the two-key advisory lock form: keeps these locks apart from any others. */
export const JOB_LOCK_NAMESPACE = 0x50770b5;
/** An active job younger than this may be between its fetch and its lock: never judged orphaned. */
const GRACE_SECONDS = 5;

/** The lock's second key: 31 bits of the job id's md5, computed the same way in SQL below. */
export function jobLockKey(jobId: string): number {
  return parseInt(createHash('md5').update(jobId.toLowerCase()).digest('hex').slice(0, 8), 16) & 0x7fffffff;
}

const KEY_SQL = `(('x' || substr(md5(j.id::text), 1, 8))::bit(32)::int & 2147483647)`;

export interface TJobLocks {
  /**
   * Marks the job as running here; best effort: without the database the job fails on its own.
   * False when another session already holds the job's lock: an earlier attempt of this job is
   * still alive (pg-boss re-delivered a job that outlived its expiry), or the database was away.
   */
  hold(jobId: string): Promise<boolean>;
  release(jobId: string): Promise<void>;
  /** Takes every held lock again when the lock connection is new (the database restarted); true when it did. */
  reassert(): Promise<boolean>;
  close(): Promise<void>;
}

export function createJobLocks(url: string, log: (line: string) => void): TJobLocks {
  // One connection, never closed while idle: session locks live exactly as long as it does.
  const sql = postgres(url, { max: 1, idle_timeout: 0, max_lifetime: null, connect_timeout: 3, onnotice: () => {}, connection: { application_name: 'pairwise-worker-locks' } });
  const held = new Set<string>();
  let backendPid: number | null = null;

  const lock = async (jobId: string): Promise<boolean> => {
    const [row] = await sql<{ locked: boolean }[]>`select pg_try_advisory_lock(${JOB_LOCK_NAMESPACE}::int, ${jobLockKey(jobId)}::int) as locked`;
    return row?.locked === true;
  };

  return {
    async hold(jobId) {
      held.add(jobId);
      try {
        if (await this.reassert()) return true;
        return await lock(jobId);
      } catch (error) {
        log(`[worker] could not mark job ${jobId} as running here: ${(error as Error).message}`);
        return false;
      }
    },
    async release(jobId) {
      held.delete(jobId);
      try {
        await sql`select pg_advisory_unlock(${JOB_LOCK_NAMESPACE}::int, ${jobLockKey(jobId)}::int)`;
      } catch {
        /* the connection is gone, and the lock with it */
      }
    },
    async reassert() {
      const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      if (row!.pid === backendPid) return false;
      backendPid = row!.pid;
      for (const jobId of held) await lock(jobId);
      return true;
    },
    close: () => sql.end({ timeout: 1 }),
  };
}

/**
 * Fails every active job that no worker holds a lock for; pg-boss then retries it (or
 * dead-letters it when its retries are spent). Reads pg-boss's job table because pg-boss 10
 * has no call that lists active jobs; the state change itself goes through pg-boss's API.
 */
export async function failOrphanedJobs(sql: postgres.Sql, boss: PgBoss, schema = 'pgboss'): Promise<{ id: string; name: string }[]> {
  const orphans = await sql.unsafe<{ id: string; name: string }[]>(
    `select j.id::text as id, j.name
       from ${schema}.job j
      where j.state = 'active'
        and j.started_on < now() - make_interval(secs => $2)
        and not exists (
          select 1 from pg_locks l
           where l.locktype = 'advisory' and l.classid = $1::int::oid and l.objsubid = 2 and l.objid = ${KEY_SQL}::oid and l.granted)`,
    [JOB_LOCK_NAMESPACE, GRACE_SECONDS],
  );
  for (const job of orphans) await boss.fail(job.name, job.id, { message: 'the worker running this job stopped; retried' });
  return orphans;
}
