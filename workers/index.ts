import { getDb } from '@/db/client';
import { artifactStore } from '@/server/artifacts/store';
import { startWorker } from './run-worker';

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
    await worker.stop();
    await db.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error('[worker] failed to start:', error);
  process.exit(1);
});
