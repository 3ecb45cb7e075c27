import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { auditCliCommand, progressBar, readSecretFromStdin, reportCliError, withDatabase } from './cli-support';
import { AppError } from './errors';
import { countExportLines, streamExport } from './exports/export-lines';
import { saveGuidelines } from './guidelines/guidelines';
import { skippedPairs } from './formats/openai-preference';
import { exportFormats, type TExportFormat } from './formats/preference-formats';
import type { TStrength } from './annotation/strengths';
import { formatStats } from './quality/format-stats';
import { goldAccuracyByAnnotator, markGold } from './quality/gold';
import { getProjectStats } from './quality/project-stats';
import { resolveComparisonId } from './quality/comparison-ref';
import { importFormats, importInFormat, type TFormatImportResult, type TImportFormat } from './imports/import-formats';
import { importLimits } from './imports/import-limits';
import { RejectReport } from './imports/reject-report';
import { requestTokenCountAt } from './quality/token-counts';
import { listModels, modelLineage, registerModel, resolveModelIds, setProjectModels } from './models/models';
import { modelKinds, modelServings } from './models/schemas';
import { registerTokenCommands } from './api-tokens/cli-commands';
import { registerAuditCommands } from './audit/cli-commands';
import { registerDatasetCommands } from './datasets/cli-commands';
import { registerExecutorCommands } from './executors/cli-commands';
import { registerRoundCommands } from './rounds/cli-commands';
import { registerGenerateCommand } from './sampling/cli-commands';
import { registerUserCommands } from './users/cli-commands';
import { addMember, createProject, requireProjectBySlug } from './projects/projects';
import { roles } from './users/schemas';
import { createUser, firstPlatformAdmin, requireUserByEmail } from './users/users';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
}

/** What an import did, in one line. */
function importSummary(slug: string, format: TImportFormat, r: TFormatImportResult, rejects?: string): string {
  const parts =
    format === 'openai-chat'
      ? [`imported ${r.prompts} prompt(s) into ${slug}`, `${r.duplicates} duplicate(s) skipped`]
      : [`imported ${r.imported} comparison(s) into ${slug}`, `${r.duplicates} duplicate(s) skipped`];
  if (r.judgments > 0 || format === 'trl' || format === 'hh-rlhf') parts.push(`${r.judgments} imported judgment(s)`);
  if (format === 'answers') parts.push(`${r.skipped} uid(s) skipped (no prompt, or no answer from one of the two models)`);
  parts.push(`${r.lines} line(s) read`);
  if (rejects) parts.push(`skipped ${r.rejected ?? 0} invalid line(s)${r.rejected ? ` (see ${rejects})` : ''}`);
  return parts.join('; ');
}

const roleOption = () => new Option('--role <role>', 'role').choices([...roles]).makeOptionMandatory();

const program = new Command()
  .name('npm run cli --')
  .description('Pairwise command line. Uses DATABASE_URL when set, else the embedded PostgreSQL under .data/.')
  .showHelpAfterError();

const user = program.command('user').description('manage users');
user
  .command('create')
  .description('create a user; the password is read from stdin')
  .requiredOption('--email <email>', 'email address (the sign-in name)')
  .addOption(roleOption())
  .option('--name <name>', 'display name')
  .action(async (opts: { email: string; role: (typeof roles)[number]; name?: string }) => {
    const password = await readSecretFromStdin('Password: ');
    await withDatabase(async ({ db }) => {
      const created = await createUser(db, { email: opts.email, password, role: opts.role, name: opts.name });
      console.log(`created ${created.role} ${created.email} (id ${created.id})`);
    });
  });

const project = program.command('project').description('manage projects');
project
  .command('create')
  .description('create a project')
  .requiredOption('--slug <slug>', 'short name used in URLs, e.g. chat-round-1')
  .requiredOption('--name <name>', 'display name')
  .option('--judgments <k>', 'judgments required per comparison', positiveInt, 1)
  .option('--lease-seconds <s>', 'how long an annotator holds a comparison', positiveInt, 900)
  .addOption(new Option('--edit <mode>', 'edit step for the chosen response').choices(['off', 'optional', 'required']).default('optional'))
  .option('--allow-ties', 'rankings may have ties', false)
  .option('--ranking-strength', 'rankings ask the strength between adjacent ranks', false)
  .option('--live', 'annotators write prompts and two registered models answer', false)
  .action(async (opts: { slug: string; name: string; judgments: number; leaseSeconds: number; edit: 'off' | 'optional' | 'required'; allowTies: boolean; rankingStrength: boolean; live: boolean }) => {
    await withDatabase(async ({ db }) => {
      const created = await createProject(db, {
        slug: opts.slug,
        name: opts.name,
        judgmentsRequired: opts.judgments,
        leaseSeconds: opts.leaseSeconds,
        editMode: opts.edit,
        allowTies: opts.allowTies,
        rankingStrength: opts.rankingStrength,
        live: opts.live,
      });
      console.log(`created project ${created.slug} (id ${created.id}, ${created.judgmentsRequired} judgment(s) per comparison)`);
    });
  });

const guidelines = program.command('guidelines').description('annotation guidelines');
guidelines
  .command('set')
  .description('save a markdown file as the project’s guidelines (a new version)')
  .requiredOption('--project <slug>', 'project slug')
  .argument('<file>', 'markdown file')
  .action(async (file: string, opts: { project: string }) => {
    const body = await fs.readFile(file, 'utf8').catch(() => {
      throw new AppError('BAD_REQUEST', `cannot read ${file}`);
    });
    await withDatabase(async ({ db }) => {
      const p = await requireProjectBySlug(db, opts.project);
      const admin = await firstPlatformAdmin(db);
      const saved = await saveGuidelines(db, { projectId: p.id, body, userId: admin?.id ?? null });
      console.log(`guidelines of ${p.slug} are at version ${saved.version}`);
    });
  });

project
  .command('models')
  .description('choose the models that answer in a live project (replaces the current choice)')
  .requiredOption('--project <slug>', 'project slug')
  .requiredOption('--models <names>', 'comma-separated model names, e.g. llama-r1,llama-r2 (at least two for live generation)')
  .action(async (opts: { project: string; models: string }) => {
    const names = [...new Set(opts.models.split(',').map((n) => n.trim()).filter(Boolean))];
    await withDatabase(async ({ db }) => {
      const p = await requireProjectBySlug(db, opts.project);
      const chosen = await setProjectModels(db, { projectId: p.id, modelIds: await resolveModelIds(db, names) });
      console.log(`${p.slug} uses ${chosen.length} model(s): ${chosen.map((m) => m.name).join(', ') || 'none'}`);
      if (chosen.length < 2) console.warn('warning: live generation needs at least two models');
    });
  });

const model = program.command('model').description('manage the model registry: policies (OpenAI-compatible endpoints) and reward models');
model
  .command('add')
  .description('register a model; the API key stays in an environment variable of the server, only its name is stored')
  .requiredOption('--name <name>', 'registry name, shown to admins only (annotators never see model names)')
  .addOption(new Option('--kind <kind>', 'policy (answers prompts) or reward (scores answers)').choices(modelKinds).default('policy'))
  .addOption(new Option('--serving <how>', 'openai (chat completions), vllm-classify (vLLM /classify), onnx-local (a local ONNX folder), none (not served)').choices(modelServings))
  .option('--base-url <url>', 'endpoint base URL, e.g. http://gpu-1:8000/v1 (vLLM) or https://api.openai.com/v1; needed for openai and vllm-classify')
  .option('--model <model>', 'the `model` field sent to the endpoint')
  .option('--api-key-env <VAR>', 'name of the environment variable that holds the API key')
  .option('--artifact-uri <uri>', 'where the weights are: s3://..., file://..., a folder (onnx-local) or a hub id')
  .option('--base-model <id>', 'what it was trained from, e.g. meta-llama/Llama-3.1-8B-Instruct')
  .option('--temperature <t>', 'sampling temperature, 0 to 2', number)
  .option('--top-p <p>', 'nucleus sampling top_p, 0 to 1', number)
  .option('--max-tokens <k>', 'longest answer in tokens, 1 to 32768', positiveInt)
  .action(
    async (opts: {
      name: string;
      kind: (typeof modelKinds)[number];
      serving?: (typeof modelServings)[number];
      baseUrl?: string;
      model?: string;
      apiKeyEnv?: string;
      artifactUri?: string;
      baseModel?: string;
      temperature?: number;
      topP?: number;
      maxTokens?: number;
    }) => {
      await withDatabase(async ({ db }) => {
        const sampling = { temperature: opts.temperature, top_p: opts.topP, max_tokens: opts.maxTokens };
        const serving = opts.serving ?? (opts.kind === 'reward' ? (opts.baseUrl ? 'vllm-classify' : opts.artifactUri ? 'onnx-local' : 'none') : opts.baseUrl ? 'openai' : 'none');
        const created = await registerModel(db, {
          name: opts.name,
          kind: opts.kind,
          serving,
          baseUrl: opts.baseUrl,
          apiModel: opts.model,
          apiKeyEnv: opts.apiKeyEnv,
          artifactUri: opts.artifactUri,
          baseModel: opts.baseModel,
          sampling: Object.fromEntries(Object.entries(sampling).filter(([, v]) => v !== undefined)),
        });
        const where = created.serving === 'openai' || created.serving === 'vllm-classify' ? `${created.apiModel} at ${created.baseUrl}` : (created.artifactUri ?? 'not served');
        console.log(`registered model ${created.name} (id ${created.id}, ${created.kind}, ${created.serving}): ${where}`);
        if (created.apiKeyEnv && !created.keyConfigured) console.warn(`warning: ${created.apiKeyEnv} is not set in this environment; set it where the web app runs`);
      });
    },
  );
model
  .command('list')
  .description('list registered models with their serving and lineage (keys are never stored, only the variable names)')
  .action(async () => {
    await withDatabase(async ({ db }) => {
      const all = await listModels(db);
      if (all.length === 0) console.log('no models registered');
      for (const m of all) {
        const key = m.apiKeyEnv ? ` key from $${m.apiKeyEnv}` : '';
        const where = m.serving === 'openai' || m.serving === 'vllm-classify' ? `${m.apiModel} at ${m.baseUrl}${key}` : (m.artifactUri ?? '-');
        const lineage = m.roundId ? ` round ${m.roundId} run ${m.runId} data ${m.datasetVersionIds.join(',')}` : '';
        console.log(`${m.name}\t${where} ${JSON.stringify(m.sampling)}\t${m.kind}, ${m.serving}${lineage}${m.enabled ? '' : ' (disabled)'}`);
      }
    });
  });
model
  .command('lineage')
  .description('where a model comes from: its round, the policy that round started from, and so on')
  .argument('<name>', 'registry name')
  .action(async (name: string) => {
    await withDatabase(async ({ db }) => {
      const [id] = await resolveModelIds(db, [name]);
      for (const step of await modelLineage(db, id!)) {
        const from = step.round ? `round ${step.round.id} (${step.round.name}, ${step.round.status}), run ${step.model.runId}, data ${step.model.datasetVersionIds.join(',') || '-'}` : 'registered';
        console.log(`${step.model.name}\t${step.model.artifactUri ?? step.model.baseModel ?? '-'}\t${from}`);
      }
    });
  });

const member = program.command('member').description('manage project members');
member
  .command('add')
  .description('add a user to a project, or change their role in it')
  .requiredOption('--project <slug>', 'project slug')
  .requiredOption('--email <email>', 'the user’s email')
  .addOption(roleOption())
  .action(async (opts: { project: string; email: string; role: (typeof roles)[number] }) => {
    await withDatabase(async ({ db }) => {
      const p = await requireProjectBySlug(db, opts.project);
      const u = await requireUserByEmail(db, opts.email);
      await addMember(db, { projectId: p.id, userId: u.id, role: opts.role });
      console.log(`${u.email} is ${opts.role} in ${p.slug}`);
    });
  });

program
  .command('import')
  .description('import comparisons (or prompts) from JSONL files, gzipped or not, in one of several formats; all files or nothing')
  .requiredOption('--project <slug>', 'project slug')
  .addOption(new Option('--format <format>', 'format of the files (see docs/data-formats.md)').choices([...importFormats]).default('native'))
  .option('--models <a,b>', 'answers format: the two models to compare (default: those of the first two answers files)')
  .option('--dedup-threshold <similarity>', 'semantic dedup: leave out new prompts this similar to a kept one (needs PAIRWISE_EMBEDDING_MODEL)', number)
  .option('--dedup-report <file>', 'with --dedup-threshold: write the dropped prompts, their nearest kept prompt and the similarity (JSONL)')
  .option('--skip-invalid', 'import the valid lines and report the invalid ones instead of importing nothing (the default: all or nothing)')
  .option('--rejects <file>', 'with --skip-invalid: where the invalid lines go (JSONL: {file, line, reason}); default: <first file>.rejects.jsonl')
  .argument('<files...>', '.jsonl or .jsonl.gz files (answers: the prompts file and one answers file per model)')
  .usage('[options] <file> [file...]')
  .action(async (files: string[], opts: { project: string; format: TImportFormat; models?: string; dedupThreshold?: number; dedupReport?: string; skipInvalid?: boolean; rejects?: string }) => {
    if (opts.rejects !== undefined && !opts.skipInvalid) throw new AppError('BAD_REQUEST', '--rejects goes with --skip-invalid', { field: 'rejects' });
    const sizes = await Promise.all(files.map(async (file) => (await fs.stat(file).catch(() => null))?.size));
    const unreadable = files.find((_, i) => sizes[i] === undefined);
    if (unreadable !== undefined) throw new AppError('BAD_REQUEST', `cannot read ${unreadable}`);
    const total = sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0);
    const models = opts.models?.split(',').map((m) => m.trim()).filter(Boolean);
    await withDatabase(async ({ db }, url) => {
      const p = await requireProjectBySlug(db, opts.project);
      const bar = progressBar('import', 'bytes');
      let dedupBar: ReturnType<typeof progressBar> | undefined;
      const limits = importLimits();
      const report = opts.skipInvalid ? new RejectReport(opts.rejects ?? `${files[0]!.replace(/\.gz$/i, '').replace(/\.jsonl?$/i, '')}.rejects.jsonl`) : null;
      bar.start(total, 0);
      try {
        const result = await importInFormat(db, {
          projectId: p.id,
          judgmentsRequired: p.judgmentsRequired,
          format: opts.format,
          files: files.map((file) => ({ name: file, source: createReadStream(file, { highWaterMark: 256 * 1024 }) })),
          models,
          maxMessageBytes: limits.maxMessageBytes,
          // Local files: no bound on their total (the admin's own data), but one on a line.
          maxLineBytes: limits.maxLineBytes,
          skipInvalid: opts.skipInvalid,
          onRejected: report ? (rejected) => report.add(rejected) : undefined,
          onProgress: (progress) => bar.update(progress.bytes),
          dedupThreshold: opts.dedupThreshold,
          onDedupProgress: (done, all) => {
            if (!dedupBar) {
              bar.update(total);
              bar.stop();
              dedupBar = progressBar('dedup', 'prompts embedded');
              dedupBar.start(all, 0);
            }
            dedupBar.update(done);
          },
        });
        await report?.close();
        bar.update(total);
        bar.stop();
        dedupBar?.stop();
        console.log(importSummary(p.slug, opts.format, result, report?.path));
        if (opts.dedupThreshold !== undefined) {
          const dropped = result.dedupDropped ?? [];
          console.log(`semantic dedup at ${opts.dedupThreshold}: left out ${dropped.length} near-duplicate prompt(s) and their ${dropped.reduce((n, d) => n + d.comparisons, 0)} comparison(s)`);
          if (opts.dedupReport) {
            await fs.writeFile(opts.dedupReport, dropped.map((d) => JSON.stringify(d) + '\n').join(''));
            console.log(`report: ${opts.dedupReport}`);
          }
        }
        await requestTokenCountAt(url, p.id);
      } catch (error) {
        bar.stop();
        dedupBar?.stop();
        await report?.close().catch(() => {});
        if (error instanceof AppError) throw new AppError(error.code, `${error.message}; nothing was imported`);
        throw error;
      }
    });
  });

program
  .command('export')
  .description('export a project’s judgments')
  .requiredOption('--project <slug>', 'project slug')
  .addOption(new Option('--format <format>', 'output format').choices([...exportFormats]).default('trl'))
  .requiredOption('--out <file>', 'output file (JSONL; a Parquet file with --format parquet)')
  .option('--exclude-flagged', 'leave out annotators flagged by gold accuracy', false)
  .action(async (opts: { project: string; format: TExportFormat; out: string; excludeFlagged: boolean }) => {
    await withDatabase(async ({ db, sql }) => {
      const p = await requireProjectBySlug(db, opts.project);
      const excludeAnnotators = opts.excludeFlagged ? (await goldAccuracyByAnnotator(db, p.id)).filter((g) => g.flagged).map((g) => g.annotatorId) : [];
      const total = await countExportLines(sql, p.id, opts.format, { excludeAnnotators });
      const bar = progressBar('export', 'pairs');
      bar.start(total, 0);
      let rows = 0;
      const skipped = skippedPairs();
      const chunks = streamExport(sql, p.id, opts.format, { excludeAnnotators, onRows: (n) => bar.update((rows += n)), onSkipped: skipped.onSkipped });
      await pipeline(Readable.from(chunks), createWriteStream(opts.out));
      bar.stop();
      const empty = opts.format === 'parquet' ? 'a Parquet file with no rows' : 'an empty file';
      console.log(rows === 0 && total === 0 ? `no judgments in ${p.slug} yet: wrote ${empty} ${opts.out}` : `wrote ${rows} preference pair(s) to ${opts.out}`);
      const summary = skipped.summary();
      if (summary) console.log(summary);
    });
  });

program
  .command('stats')
  .description('a project’s figures: counts, agreement with 95% intervals, gold accuracy, model leaderboard')
  .requiredOption('--project <slug>', 'project slug')
  .option('--json', 'print one JSON object (for scripts)', false)
  .option('--rounds <n>', 'bootstrap rounds for the leaderboard', positiveInt, 1000)
  .option('--round <label>', 'only comparisons whose metadata.round is this label (leaderboard)')
  .action(async (opts: { project: string; json: boolean; rounds: number; round?: string }) => {
    await withDatabase(async (handle) => {
      const p = await requireProjectBySlug(handle.db, opts.project);
      const stats = await getProjectStats(handle, p.id, { leaderboardRounds: opts.rounds, round: opts.round });
      if (opts.json) {
        console.log(JSON.stringify({ project: p.slug, ...stats }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
        return;
      }
      console.log(formatStats(p.slug, stats));
    });
  });

const gold = program.command('gold').description('gold items (comparisons with a known answer)');
gold
  .command('set')
  .description('mark a comparison as gold with its expected choice')
  .requiredOption('--project <slug>', 'project slug')
  .requiredOption('--comparison <id>', 'comparison: its id in the import file, or its numeric id with a leading #')
  .addOption(new Option('--choice <which>', 'the better response, as imported').choices(['first', 'second']).makeOptionMandatory())
  .addOption(new Option('--min-strength <s>', 'the weakest strength still counted correct').choices(['significantly_better', 'better', 'slightly_better', 'marginally_better']))
  .action(async (opts: { project: string; comparison: string; choice: 'first' | 'second'; minStrength?: TStrength }) => {
    await withDatabase(async ({ db }) => {
      const p = await requireProjectBySlug(db, opts.project);
      const comparisonId = await resolveComparisonId(db, p.id, opts.comparison);
      await markGold(db, { projectId: p.id, comparisonId, choice: opts.choice === 'first' ? 0 : 1, minStrength: opts.minStrength ?? null });
      console.log(`comparison ${opts.comparison} of ${p.slug} is gold: expected ${opts.choice}${opts.minStrength ? `, at least ${opts.minStrength}` : ''}`);
    });
  });

registerDatasetCommands(program);
registerTokenCommands(program);
registerExecutorCommands(program);
registerRoundCommands(program);
registerGenerateCommand(program);
registerUserCommands(program);
registerAuditCommands(program);

/** Commands that only read; every other command changes something and lands in the audit log. */
const readOnlyCommands = new Set(['list', 'show', 'export', 'stats', 'lineage', 'preview', 'test']);
program.hook('preAction', (_program, command) => {
  if (readOnlyCommands.has(command.name())) return;
  const path: string[] = [];
  for (let c: Command | null = command; c && c !== program; c = c.parent) path.unshift(c.name());
  const options = command.opts<Record<string, unknown>>();
  auditCliCommand({
    action: `cli:${path.join(' ')}`,
    projectSlug: typeof options.project === 'string' ? options.project : undefined,
    target: command.args.length ? command.args.join(' ') : null,
    after: options,
  });
});

program.parseAsync(process.argv).catch(reportCliError);
