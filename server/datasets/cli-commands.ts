import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { strengths } from '../annotation/strengths';
import { artifactStore } from '../artifacts/store';
import { progressBar, withDatabase } from '../cli-support';
import { AppError } from '../errors';
import { expansions } from '../exports/preference-pairs';
import { withAdminQueue } from '../jobs/queue';
import { requireProjectBySlug } from '../projects/projects';
import { firstPlatformAdmin, requireUserByEmail } from '../users/users';
import { buildDatasetVersion, type TDatasetVersion } from './build-version';
import { listDatasetVersions, parseSpec, requestDatasetVersion, requireBuiltVersion, requireDatasetVersion, resolveSpecProjects } from './datasets';
import type { TDatasetSpecInput } from './spec';
import { skippedPairs } from '../formats/openai-preference';
import { streamVersionExport, versionFormats, versionSplits, type TVersionFormat, type TVersionManifest, type TVersionSplit } from './version-files';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const share = (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number between 0 and 1');
  return n;
};

interface TBuildOptions {
  project: string[];
  name: string;
  round?: string[];
  model?: string[];
  from?: string;
  to?: string;
  minStrength: string;
  dropSimilar: 'none' | 'marginally_better' | 'slightly_better';
  keepUnrated: boolean;
  keepFlagged: boolean;
  keepGold: boolean;
  minGoldAccuracy?: number;
  aggregation: 'all' | 'consensus';
  expansion: (typeof expansions)[number];
  dedupThreshold?: number;
  testFraction: number;
  splitSeed: string;
  as?: string;
}

function specFromOptions(opts: TBuildOptions): TDatasetSpecInput {
  return {
    projects: opts.project,
    rounds: opts.round,
    models: opts.model,
    from: opts.from,
    to: opts.to,
    minStrength: opts.minStrength === 'any' ? null : (opts.minStrength as (typeof strengths)[number]),
    dropSimilar: opts.dropSimilar,
    keepUnrated: opts.keepUnrated,
    dropFlagged: !opts.keepFlagged,
    dropGold: !opts.keepGold,
    minGoldAccuracy: opts.minGoldAccuracy ?? null,
    aggregation: opts.aggregation,
    expansion: opts.expansion,
    dedupThreshold: opts.dedupThreshold ?? null,
    testFraction: opts.testFraction,
    splitSeed: opts.splitSeed,
  };
}

const terminal = new Set(['succeeded', 'failed', 'cancelled']);

/** `npm run cli -- dataset ...`: build, list and export dataset versions. */
export function registerDatasetCommands(program: Command): void {
  const dataset = program.command('dataset').description('build, list and export dataset versions');

  dataset
    .command('build')
    .description('build an immutable dataset version from judgments; prints the version id')
    .requiredOption('--project <slug>', 'source project (repeat for several)', collect)
    .requiredOption('--name <name>', 'a name for the version, e.g. "rm round 2"')
    .option('--round <label>', 'only comparisons whose metadata.round is this label (repeatable)', collect)
    .option('--model <name>', 'only pairs whose responses come from these models (repeatable)', collect)
    .option('--from <iso-date>', 'only judgments made at or after this instant')
    .option('--to <iso-date>', 'only judgments made before this instant')
    .addOption(new Option('--min-strength <level>', 'weakest strength kept (Llama 3: better)').choices([...strengths, 'any']).default('better'))
    .addOption(new Option('--drop-similar <level>', 'drop similar responses').choices(['none', 'marginally_better', 'slightly_better']).default('marginally_better'))
    .option('--no-keep-unrated', 'drop pairs without a strength (edit pairs, rankings without strengths, imported labels)')
    .option('--keep-flagged', 'keep judgments with flags', false)
    .option('--keep-gold', 'keep judgments of gold items', false)
    .option('--min-gold-accuracy <share>', 'leave out annotators under this gold accuracy', share)
    .addOption(new Option('--aggregation <mode>', 'every judgment, or the consensus per comparison').choices(['all', 'consensus']).default('all'))
    .addOption(new Option('--expansion <mode>', 'which pairs a ranking gives').choices([...expansions]).default('all'))
    .option('--dedup-threshold <similarity>', 'semantic prompt dedup: drop prompts this similar to a kept one (needs PAIRWISE_EMBEDDING_MODEL)', share)
    .option('--test-fraction <share>', 'share of prompts held out for the test split', share, 0.05)
    .option('--split-seed <seed>', 'seed of the train/test split', 'pairwise')
    .option('--as <email>', 'who builds it (default: the first platform admin)')
    .action(async (opts: TBuildOptions) => {
      await withDatabase(async (handle, url) => {
        const spec = parseSpec(specFromOptions(opts));
        const projectIds = await resolveSpecProjects(handle.db, spec);
        const builder = opts.as ? await requireUserByEmail(handle.db, opts.as) : await firstPlatformAdmin(handle.db);
        const requested = await withAdminQueue(url, (boss) => requestDatasetVersion(handle, boss, { name: opts.name, spec, projectIds, createdBy: builder?.id ?? null }));
        const version = await buildHere(handle, requested);
        const manifest = version.manifest as unknown as TVersionManifest | null;
        if (version.status !== 'succeeded' || !manifest) throw new AppError('CONFLICT', `dataset version ${version.id} ${version.status}${version.error ? `: ${version.error}` : ''}`);
        const { counts } = manifest;
        console.error(
          `built dataset version ${version.id} "${version.name}": ${counts.pairs} pair(s) (${counts.train} train, ${counts.test} test) from ${counts.judgments} judgment(s), ${counts.prompts} prompt(s); sha256 ${manifest.contentHash}` +
            (counts.pairs === 0 ? '\nnote: the selection is empty: no judgment passed the filters' : ''),
        );
        console.log(version.id);
      });
    });

  dataset
    .command('list')
    .description('list dataset versions, newest first')
    .option('--project <slug>', 'only versions drawing from this project')
    .option('--json', 'print JSON', false)
    .action(async (opts: { project?: string; json: boolean }) => {
      await withDatabase(async ({ db }) => {
        const project = opts.project ? await requireProjectBySlug(db, opts.project) : null;
        const rows = await listDatasetVersions(db, { visibleProjects: null, limit: 500, project: project?.id ?? null });
        if (opts.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        if (rows.length === 0) console.log('no dataset versions yet: build one with `dataset build`');
        for (const v of rows) {
          const counts = (v.manifest as unknown as TVersionManifest | null)?.counts;
          const size = counts ? `${counts.pairs} pairs (${counts.train}/${counts.test})` : v.progressTotal ? `${v.progressDone}/${v.progressTotal} judgments read` : '';
          console.log([String(v.id).padStart(5), v.status.padEnd(9), v.createdAt.toISOString().slice(0, 16), (v.contentHash ?? '').slice(0, 12).padEnd(12), size, v.name].join('  '));
        }
      });
    });

  dataset
    .command('export')
    .description('write a dataset version in a trainer format')
    .requiredOption('--version <id>', 'dataset version id', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a version id');
      return n;
    })
    .addOption(new Option('--format <format>', 'output format').choices([...versionFormats]).default('trl'))
    .addOption(new Option('--split <split>', 'which split').choices([...versionSplits]).default('train'))
    .requiredOption('--out <file>', 'output file')
    .action(async (opts: { version: number; format: TVersionFormat; split: TVersionSplit; out: string }) => {
      await withDatabase(async ({ db }) => {
        const version = await requireBuiltVersion(db, opts.version);
        const counts = (version.manifest as unknown as TVersionManifest).counts;
        const total = opts.split === 'all' ? counts.pairs : counts[opts.split];
        const bar = progressBar('export', 'pairs');
        bar.start(total, 0);
        let rows = 0;
        const skipped = skippedPairs();
        const chunks = streamVersionExport(artifactStore(), version.id, { format: opts.format, split: opts.split, onRows: (n) => bar.update((rows += n)), onSkipped: skipped.onSkipped });
        await pipeline(Readable.from(chunks), createWriteStream(opts.out));
        bar.update(total);
        bar.stop();
        console.log(rows === 0 && total === 0 ? `the ${opts.split} split of version ${version.id} is empty: wrote an empty file ${opts.out}` : `wrote ${rows} line(s) to ${opts.out}`);
        const summary = skipped.summary();
        if (summary) console.log(summary);
      });
    });
}

/**
 * Builds a requested version in this process with a progress bar. The worker may have claimed
 * it first (the build is claimed atomically): then this follows its progress until it ends.
 */
async function buildHere(handle: Parameters<typeof buildDatasetVersion>[0], requested: TDatasetVersion): Promise<TDatasetVersion> {
  const bar = progressBar('build', 'judgments');
  bar.start(1, 0);
  let done = false;
  const poll = (async () => {
    while (!done) {
      const current = await requireDatasetVersion(handle.db, requested.id);
      if (current.progressTotal !== null) bar.setTotal(Math.max(current.progressTotal, 1));
      bar.update(current.progressDone);
      await sleep(300);
    }
  })();
  try {
    let version = (await buildDatasetVersion(handle, artifactStore(), requested.id)) ?? requested;
    while (!terminal.has(version.status)) {
      await sleep(500);
      version = await requireDatasetVersion(handle.db, requested.id);
    }
    bar.update(Math.max(version.progressTotal ?? 1, 1));
    return version;
  } finally {
    done = true;
    await poll;
    bar.stop();
  }
}
