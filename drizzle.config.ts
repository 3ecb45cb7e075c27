import { defineConfig } from 'drizzle-kit';

// `drizzle-kit generate` diffs db/schema against the snapshots in migrations/; it needs no database.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema/index.ts',
  out: './migrations',
  casing: 'snake_case',
});
