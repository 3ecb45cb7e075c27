import path from 'node:path';
import { defineConfig } from 'vitest/config';

/** `npm run test:round`: whole rounds with the real trainers on CPU (minutes, not seconds). */
export default defineConfig({
  resolve: { alias: { '@': path.resolve(import.meta.dirname) } },
  test: {
    include: ['tests/round/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
