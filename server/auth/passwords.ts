import { hash, verify } from '@node-rs/argon2';
import { env } from '../env';
import { createSemaphore, type TSemaphore } from '../limits/concurrency';

// argon2id (the library's default algorithm) with OWASP's minimum: 19 MiB, 2 passes, 1 lane.
const options = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

let hashing: TSemaphore | undefined;
/**
 * Each hash takes 19 MiB and a core for tens of milliseconds: without a cap, a flood of sign-ins
 * takes the memory and the CPU of the web process. Past the cap and a short line, refuse at once.
 */
function hashSlots(): TSemaphore {
  return (hashing ??= createSemaphore({
    max: env().PAIRWISE_MAX_CONCURRENT_HASHES,
    maxWaiting: env().PAIRWISE_MAX_QUEUED_HASHES,
    busyMessage: 'the server is busy checking passwords; try again in a few seconds',
  }));
}

export function hashPassword(password: string): Promise<string> {
  return hashSlots().run(() => hash(password, options));
}

/** Throws BusyError (without hashing) when too many hashes are running and waiting. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return hashSlots().run(async () => {
    try {
      return await verify(passwordHash, password);
    } catch {
      return false; // a malformed stored hash is a failed sign-in, not a crash
    }
  });
}
