import path from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:slurm`: the Slurm executor against a real cluster on this machine (munged,
 * slurmctld and two slurmd, started by the tests with their own config), directly and through a
 * real sshd, and a whole training round through Slurm. Root and Debian's slurm-wlm, munge and
 * openssh-server needed; without them the tests skip, saying why (never under CI=true).
 */
export default defineConfig({
  resolve: { alias: { '@': path.resolve(import.meta.dirname) } },
  test: {
    include: ['tests/slurm/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
