import { getDb } from '@/db/client';
import { artifactStore } from '@/server/artifacts/store';
import { startWorker } from './run-worker';

/** Running jobs get STOP_GRACE_MS (run-worker.ts) to finish; this caps the whole shutdown. */
const SHUTDOWN_LIMIT_MS = 10_000;

/** The worker process: `npm run worker` (npm start runs it for you). Needs DATABASE_URL. */
async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: `npm start` runs the worker with the right one.');
  const db = getDb();
  const worker = await startWorker(url, { db, store: artifactStore() });
  console.log('[worker] ready');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[worker] ${signal}: finishing running jobs`);
    // Bounded: without a database, pg-boss's last writes and the pool's goodbye would wait forever.
    const deadline = setTimeout(() => {
      console.log('[worker] stopping took too long; exiting (unfinished jobs are retried)');
      process.exit(0);
    }, SHUTDOWN_LIMIT_MS);
    await worker.stop().catch((error: unknown) => console.log(`[worker] stopping the queue: ${String(error)}`));
    await db.close().catch(() => {});
    clearTimeout(deadline);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error('[worker] failed to start:', error);
  process.exit(1);
});
