import { sql } from 'drizzle-orm';
import type { TMessage } from '@/db/schema';
import { AppError } from '../errors';
import { answersAnswer, answersComparison, answersLineKind, answersPrompt } from './formats/answers';
import type { ImportRun, TNamedSource } from './import-formats';
import { canonicalMessagesJson, checkMessageSizes, LineError, lineError } from './records';
import { prepareRecord, rejectUnstorable } from './write-batch';

const STAGE_ROWS = 500;
const STAGE_BYTES = 4_000_000;

/** Rows for one temporary table, inserted a batch at a time. */
class Stage {
  private rows: string[] = [];
  private bytes = 0;

  constructor(private readonly insert: (payload: string) => Promise<unknown>) {}

  async add(row: Record<string, unknown>): Promise<void> {
    const json = JSON.stringify(row);
    rejectUnstorable(json);
    this.rows.push(json);
    this.bytes += json.length;
    if (this.rows.length >= STAGE_ROWS || this.bytes >= STAGE_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.rows.length === 0) return;
    const payload = `[${this.rows.join(',')}]`;
    this.rows = [];
    this.bytes = 0;
    await this.insert(payload);
  }
}

/**
 * The answers layout: one prompts file and answers files, joined on uid. Every line is
 * validated and staged in temporary tables of the import's transaction, so memory stays flat
 * whatever the files' sizes; the join runs in the database, in the prompts file's order, a
 * page at a time, and feeds the one writer. A uid without a prompt, or without an answer from
 * one of the two models, is skipped and counted.
 */
export async function importAnswers(run: ImportRun, files: TNamedSource[], options: { models?: string[]; maxMessageBytes: number }): Promise<void> {
  const { tx } = run;
  await tx.execute(sql`create temp table import_prompts (seq int, fi int, file text, line int, uid text, prompt text, metadata text) on commit drop`);
  await tx.execute(sql`create temp table import_answers (fi int, file text, line int, uid text, model text, response text) on commit drop`);
  const prompts = new Stage((payload) =>
    tx.execute(sql`insert into import_prompts select * from jsonb_to_recordset(${payload}::jsonb)
      as x(seq int, fi int, file text, line int, uid text, prompt text, metadata text)`),
  );
  const answers = new Stage((payload) =>
    tx.execute(sql`insert into import_answers select * from jsonb_to_recordset(${payload}::jsonb)
      as x(fi int, file text, line int, uid text, model text, response text)`),
  );

  let promptsFile: string | undefined;
  /** The model of the first line of each answers file, in the order given. */
  const fileModels: string[] = [];
  let seq = 0;
  for (const [fi, file] of files.entries()) {
    let kind: 'prompt' | 'answer' | null = null;
    await run.eachLine(file, async (json, ref) => {
      const lineKind = answersLineKind(json);
      if (kind === null) {
        kind = lineKind;
        if (kind === 'prompt' && promptsFile !== undefined) throw new LineError(`a second prompts file (the first is ${promptsFile}): give one prompts file and answers files`);
        if (kind === 'prompt') promptsFile = file.name ?? 'upload';
      } else if (lineKind !== kind) {
        throw new LineError(kind === 'prompt' ? 'an answer line in the prompts file' : 'a prompt line in an answers file');
      }
      if (lineKind === 'prompt') {
        const p = answersPrompt(json);
        checkMessageSizes(p.prompt, options.maxMessageBytes);
        await prompts.add({ seq: ++seq, fi, file: file.name ?? null, line: ref.line, uid: p.uid, prompt: canonicalMessagesJson(p.prompt), metadata: JSON.stringify(p.metadata) });
      } else {
        const a = answersAnswer(json);
        checkMessageSizes(a.response, options.maxMessageBytes);
        await answers.add({ fi, file: file.name ?? null, line: ref.line, uid: a.uid, model: a.model, response: canonicalMessagesJson(a.response) });
      }
    });
    await prompts.flush();
    await answers.flush();
    if (kind === 'answer') {
      const [first] = await tx.execute<{ model: string }>(sql`select model from import_answers where fi = ${fi} order by line limit 1`);
      fileModels.push(first!.model);
    }
  }
  if (promptsFile === undefined) {
    throw new AppError('BAD_REQUEST', 'the answers format needs a prompts file: one whose lines have "uid" and "prompt"', { field: 'files' });
  }

  const models = options.models ?? fileModels.slice(0, 2);
  if (models.length !== 2 || models[0] === models[1]) {
    throw new AppError(
      'BAD_REQUEST',
      options.models ? 'give two different models to compare' : `two answers files are needed to choose the models to compare (found ${fileModels.length}); or name the two models`,
      { field: 'models' },
    );
  }
  const present = await tx.execute<{ model: string }>(sql`select distinct model from import_answers order by model`);
  const found = present.map((r) => r.model);
  for (const model of models) {
    if (!found.includes(model)) {
      throw new AppError('BAD_REQUEST', `no answers from model ${JSON.stringify(model)} in the files (found: ${found.slice(0, 20).join(', ') || 'none'})`, { field: 'models' });
    }
  }

  await rejectRepeats(run);
  await tx.execute(sql`create index on import_prompts (seq)`);
  await tx.execute(sql`create index on import_answers (uid, model)`);
  await tx.execute(sql`analyze import_prompts, import_answers`);

  const [a, b] = models as [string, string];
  const [skipped] = await tx.execute<{ prompts: number; answers: number }>(sql`
    select
      (select count(*) from import_prompts p
        where not exists (select 1 from import_answers x where x.uid = p.uid and x.model = ${a})
           or not exists (select 1 from import_answers x where x.uid = p.uid and x.model = ${b}))::int as prompts,
      (select count(distinct x.uid) from import_answers x
        where x.model in (${a}, ${b}) and not exists (select 1 from import_prompts p where p.uid = x.uid))::int as answers`);
  run.result.skipped += skipped!.prompts + skipped!.answers;

  let last = 0;
  for (;;) {
    const page = await tx.execute<{ seq: number; file: string | null; line: number; uid: string; prompt: string; metadata: string; a: string; b: string }>(sql`
      select p.seq, p.file, p.line, p.uid, p.prompt, p.metadata, x.response as a, y.response as b
      from import_prompts p
      join import_answers x on x.uid = p.uid and x.model = ${a}
      join import_answers y on y.uid = p.uid and y.model = ${b}
      where p.seq > ${last}
      order by p.seq
      limit ${STAGE_ROWS}`);
    if (page.length === 0) break;
    for (const row of page) {
      const ref = { file: row.file ?? undefined, line: row.line, id: null };
      const record = answersComparison({ uid: row.uid, prompt: JSON.parse(row.prompt) as TMessage[], metadata: JSON.parse(row.metadata) as Record<string, unknown> }, [
        { uid: row.uid, model: a, response: JSON.parse(row.a) as TMessage[] },
        { uid: row.uid, model: b, response: JSON.parse(row.b) as TMessage[] },
      ]);
      await run.add(prepareRecord(record, ref, { maxMessageBytes: options.maxMessageBytes, source: null }));
    }
    last = page.at(-1)!.seq;
  }
}

/** A uid twice in the prompts file, or twice for one model, is an error at its second line. */
async function rejectRepeats(run: ImportRun): Promise<void> {
  const [prompt] = await run.tx.execute<{ uid: string; file: string | null; line: number; first: number }>(sql`
    select uid, (array_agg(file order by seq))[2] as file, (array_agg(line order by seq))[2] as line, min(line) as first
    from import_prompts group by uid having count(*) > 1 order by min(seq) limit 1`);
  if (prompt) {
    throw lineError(prompt.file ?? undefined, prompt.line, `uid ${JSON.stringify(prompt.uid)} is already at line ${prompt.first} of the prompts file`);
  }
  const [answer] = await run.tx.execute<{ uid: string; model: string; file: string | null; line: number; first_file: string | null; first_line: number }>(sql`
    select uid, model, (array_agg(file order by fi, line))[2] as file, (array_agg(line order by fi, line))[2] as line,
      (array_agg(file order by fi, line))[1] as first_file, (array_agg(line order by fi, line))[1] as first_line
    from import_answers group by uid, model having count(*) > 1 order by min(fi), min(line) limit 1`);
  if (answer) {
    const first = answer.first_file === null ? `line ${answer.first_line}` : `${answer.first_file}: line ${answer.first_line}`;
    throw lineError(answer.file ?? undefined, answer.line, `a second answer of model ${JSON.stringify(answer.model)} for uid ${JSON.stringify(answer.uid)} (the first is at ${first})`);
  }
}
