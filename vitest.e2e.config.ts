import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { alias: { '@': path.resolve(import.meta.dirname) } },
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    globalSetup: ['tests/e2e/app-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // One app, one browser at a time: the scenario tests share the app's state.
    fileParallelism: false,
  },
});
