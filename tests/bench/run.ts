/**
 * Benchmarks: `npm run bench -- <name>`. Each prints its figures and, last, one JSON line.
 * They use TEST_DATABASE_URL's server when set, else an embedded PostgreSQL.
 */
const benches: Record<string, () => Promise<void>> = {
  queue: async () => (await import('./queue')).run(),
  stats: async () => (await import('./stats')).run(),
  annotate: async () => (await import('./annotate')).run(),
  'annotator-stats': async () => (await import('./annotator-stats')).run(Number(process.env.BENCH_JUDGMENTS ?? 1_000_000)),
  'sem-dedup': async () => (await import('./semantic-dedup')).run(),
  import: async () => (await import('./import')).run(),
  export: async () => (await import('./export')).run(),
  sampling: async () => (await import('./sampling')).run(),
  load: async () => (await import('./load')).run(),
};

const benchName = process.argv[2];
const bench = benchName ? benches[benchName] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
bench().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

export {};
