import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { canonicalMessagesJson, checkMessageSizes, LineError, sha256, type TImportRecord } from './records';

/**
 * The one write path of every import format. Records become prepared items (hashes, JSON);
 * a batch of them is written by a single statement: prompts (upsert), comparisons (new ones
 * only: the same id or content is skipped), their responses and links, and for labelled pairs
 * the imported judgment with its assignment and ranks. All ids come from the tables'
 * sequences inside the statement, so a batch is one round trip that the caller can overlap
 * with reading the next batch.
 */

export interface TLineRef {
  file: string | undefined;
  line: number;
  id: string | null;
}

interface TPreparedPrompt {
  hash: string;
  /** The element of the statement's prompt list. */
  json: string;
}

interface TPreparedComparison {
  ref: TLineRef;
  prompt: TPreparedPrompt;
  hash: string;
  /** The element of the statement's comparison list, without its batch index. */
  json: string;
}

export type TPrepared = { kind: 'prompt'; prompt: TPreparedPrompt } | { kind: 'comparison'; comparison: TPreparedComparison };

// What PostgreSQL cannot store in jsonb or text: NUL, and a UTF-16 surrogate without its pair
// (JSON.stringify writes both as \u escapes; a paired surrogate stays a raw character).
const UNSTORABLE_ESCAPE = /\\u(0000|d[89a-f])/i;
// In a /u pattern a paired surrogate is one astral character: only a lone one is a surrogate.
const LONE_SURROGATE = /\p{Cs}/u;

/** Throws when a JSON text holds a string PostgreSQL cannot store. */
export function rejectUnstorable(json: string): void {
  if (!UNSTORABLE_ESCAPE.test(json)) return;
  // The escape may be text (an escaped backslash before "u0000"): look at the parsed strings.
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      if (value.includes('\u0000')) throw new LineError('contains a NUL character (\\u0000), which PostgreSQL cannot store');
      if (LONE_SURROGATE.test(value)) throw new LineError('contains an unpaired UTF-16 surrogate, which is not valid Unicode');
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        walk(k);
        walk(v);
      }
    }
  };
  walk(JSON.parse(json));
}

function preparePrompt(messages: TImportRecord['prompt'], metadata: Record<string, unknown> | undefined): TPreparedPrompt & { messagesJson: string } {
  const messagesJson = canonicalMessagesJson(messages);
  const hash = sha256(messagesJson);
  return { hash, messagesJson, json: `{"h":"${hash}","m":${messagesJson},"md":${metadata ? JSON.stringify(metadata) : 'null'}}` };
}

/**
 * Validates sizes, hashes content and builds the statement's JSON for one record. Throws
 * LineError. A labelled pair is stored in an order derived from its content (the smaller
 * response hash first), never chosen-first: position statistics would read a bias into it.
 */
export function prepareRecord(record: TImportRecord, ref: TLineRef, options: { maxMessageBytes: number; source: string | null }): TPrepared {
  checkMessageSizes(record.prompt, options.maxMessageBytes);
  if (record.kind === 'prompt') {
    const prompt = preparePrompt(record.prompt, record.metadata);
    rejectUnstorable(prompt.json);
    return { kind: 'prompt', prompt: { hash: prompt.hash, json: prompt.json } };
  }
  for (const r of record.responses) checkMessageSizes(r.content, options.maxMessageBytes);
  const prompt = preparePrompt(record.prompt, record.promptMetadata);
  let responses = record.responses.map((r) => ({ json: canonicalMessagesJson(r.content), model: r.model ?? null }));
  let chosenPosition: number | null = null;
  if (record.preferred !== undefined) {
    if (responses.length !== 2) throw new LineError('a labelled comparison is a pair');
    const [a, b] = responses as [(typeof responses)[0], (typeof responses)[0]];
    if (a.json === b.json && a.model === b.model) throw new LineError('chosen and rejected are the same response');
    const swap = sha256(b.json) < sha256(a.json);
    if (swap) responses = [b, a];
    chosenPosition = swap ? 1 - record.preferred : record.preferred;
  }
  const hash = sha256(`{"prompt":${prompt.messagesJson},"responses":[${responses.map((r) => `{"content":${r.json},"model":${JSON.stringify(r.model)}}`).join(',')}]}`);
  const json =
    `"h":"${hash}","ph":"${prompt.hash}","x":${record.id === undefined ? 'null' : JSON.stringify(record.id)},` +
    `"md":${record.metadata ? JSON.stringify(record.metadata) : 'null'},"gc":${record.gold?.choice ?? 'null'},` +
    `"gs":${record.gold?.min_strength ? JSON.stringify(record.gold.min_strength) : 'null'},` +
    `"r":[${responses.map((r) => `{"m":${r.json},"mo":${JSON.stringify(r.model)}}`).join(',')}],` +
    `"j":${chosenPosition ?? 'null'},"s":${chosenPosition === null ? 'null' : JSON.stringify(options.source)}}`;
  rejectUnstorable(`{${json}`);
  rejectUnstorable(prompt.json);
  return { kind: 'comparison', comparison: { ref, prompt: { hash: prompt.hash, json: prompt.json }, hash, json } };
}

/**
 * A batch being filled. Repeats inside the batch are settled here (the statement sees only
 * rows from before it): the same content again is a duplicate; the same id with other
 * content is an error at that line.
 */
export class Batch {
  private promptHashes = new Set<string>();
  private promptJson: string[] = [];
  private comparisonHashes = new Set<string>();
  private idHashes = new Map<string, string>();
  private comparisonJson: string[] = [];
  readonly refs: TLineRef[] = [];
  /** Records taken: comparisons and bare prompts, repeats included. */
  size = 0;
  promptRecords = 0;
  comparisonRecords = 0;
  /** Comparisons repeated inside the batch. */
  repeats = 0;

  add(item: TPrepared): void {
    this.size += 1;
    if (item.kind === 'prompt') {
      this.promptRecords += 1;
      this.addPrompt(item.prompt);
      return;
    }
    const c = item.comparison;
    if (this.comparisonHashes.has(c.hash)) {
      this.comparisonRecords += 1;
      this.repeats += 1;
      return;
    }
    // Checked before anything is counted: a lenient import leaves the line out and goes on.
    if (c.ref.id !== null && this.idHashes.has(c.ref.id)) {
      this.size -= 1;
      throw new LineError(`id ${JSON.stringify(c.ref.id)} already exists in this project with different content`);
    }
    this.comparisonRecords += 1;
    if (c.ref.id !== null) this.idHashes.set(c.ref.id, c.hash);
    this.comparisonHashes.add(c.hash);
    this.addPrompt(c.prompt);
    this.comparisonJson.push(`{"l":${this.refs.length},${c.json}`);
    this.refs.push(c.ref);
  }

  private addPrompt(prompt: TPreparedPrompt): void {
    if (this.promptHashes.has(prompt.hash)) return;
    this.promptHashes.add(prompt.hash);
    this.promptJson.push(prompt.json);
  }

  get promptsPayload(): string {
    return `[${this.promptJson.join(',')}]`;
  }

  get comparisonsPayload(): string {
    return `[${this.comparisonJson.join(',')}]`;
  }
}

export interface TWriteContext {
  projectId: number;
  judgmentsRequired: number;
  /** The user that imported judgments belong to (null when the format carries no labels). */
  importUserId: number | null;
  /** Qualified names of the identity sequences of responses, assignments and judgments. */
  sequences: { responses: string; assignments: string; judgments: string };
}

export async function identitySequences(db: TDb): Promise<TWriteContext['sequences']> {
  const [row] = await db.execute<{ responses: string; assignments: string; judgments: string }>(sql`
    select pg_get_serial_sequence('responses', 'id') as responses, pg_get_serial_sequence('assignments', 'id') as assignments,
      pg_get_serial_sequence('judgments', 'id') as judgments`);
  return row!;
}

/** A sequence name as an SQL literal (it comes from the catalog; quoted all the same). */
const nextval = (sequence: string) => sql.raw(`nextval('${sequence.replace(/'/g, "''")}'::regclass)`);

export interface TBatchResult {
  /** New comparisons. */
  imported: number;
  /** New prompts (also those of new comparisons). */
  prompts: number;
  judgments: number;
  /** The lines whose id is already in the project with other content (left out), in line order. */
  conflicts: TLineRef[];
}

/**
 * Writes one batch in one statement. Data-modifying CTEs all see the rows from before the
 * statement, which is what the id check wants; in-batch repeats were settled by Batch.
 */
export async function writeBatch(tx: TDb, ctx: TWriteContext, batch: Batch): Promise<TBatchResult> {
  const [row] = await tx.execute<{ imported: number; prompts: number; judgments: number; conflicts: number[] | null }>(sql`
    with pin as (
      select * from jsonb_to_recordset(${batch.promptsPayload}::jsonb) as x(h text, m jsonb, md jsonb)
    ),
    cin as (
      select * from jsonb_to_recordset(${batch.comparisonsPayload}::jsonb)
        as x(l int, h text, ph text, x text, md jsonb, gc int, gs preference_strength, r jsonb, j int, s text)
    ),
    -- The no-op update makes RETURNING give the ids of prompts that already exist.
    p as (
      insert into prompts (project_id, messages, metadata, content_hash)
      select ${ctx.projectId}, pin.m, coalesce(pin.md, '{}'::jsonb), pin.h from pin
      on conflict (project_id, content_hash) do update set content_hash = excluded.content_hash
      returning id, content_hash
    ),
    c as (
      insert into comparisons (project_id, prompt_id, external_id, content_hash, judgments_required, judgment_count, metadata, gold_choice, gold_min_strength)
      select ${ctx.projectId}, p.id, cin.x, cin.h, ${ctx.judgmentsRequired}, case when cin.j is null then 0 else 1 end,
        coalesce(cin.md, '{}'::jsonb), cin.gc, cin.gs
      from cin join p on p.content_hash = cin.ph
      order by cin.l
      on conflict do nothing
      returning id, prompt_id, content_hash
    ),
    r as (
      select ${nextval(ctx.sequences.responses)} as id, s.*
      from (
        select c.id as comparison_id, c.prompt_id, (e.ord - 1)::int as position, e.v -> 'm' as messages, e.v ->> 'mo' as model
        from c join cin on cin.h = c.content_hash
        cross join lateral jsonb_array_elements(cin.r) with ordinality as e(v, ord)
        order by c.id, e.ord
      ) s
    ),
    ri as (
      insert into responses (id, prompt_id, messages, model, origin) overriding system value
      select id, prompt_id, messages, model, 'model' from r
    ),
    cri as (
      insert into comparison_responses (comparison_id, position, response_id)
      select comparison_id, position, id from r
    ),
    jr as (
      select ${nextval(ctx.sequences.assignments)} as assignment_id, ${nextval(ctx.sequences.judgments)} as judgment_id, s.*
      from (
        select c.id as comparison_id, cin.j as chosen_position, cin.s as source,
          case when cin.j = 0 then r0.id else r1.id end as chosen_id, case when cin.j = 0 then r1.id else r0.id end as rejected_id,
          r0.id as r0, r1.id as r1
        from c join cin on cin.h = c.content_hash
        join r r0 on r0.comparison_id = c.id and r0.position = 0
        join r r1 on r1.comparison_id = c.id and r1.position = 1
        where cin.j is not null
        order by c.id
      ) s
    ),
    ai as (
      insert into assignments (id, comparison_id, annotator_id, shown_response_ids, status, leased_at, expires_at) overriding system value
      select assignment_id, comparison_id, ${ctx.importUserId}, array[r0, r1], 'submitted', now(), now() from jr
    ),
    ji as (
      insert into judgments (id, project_id, comparison_id, assignment_id, annotator_id, chosen_response_id, rejected_response_id,
        chosen_position, time_spent_ms, client_submission_id, source) overriding system value
      select judgment_id, ${ctx.projectId}, comparison_id, assignment_id, ${ctx.importUserId}, chosen_id, rejected_id,
        chosen_position, 0, 'import:' || comparison_id, source from jr
    ),
    rk as (
      insert into judgment_ranks (judgment_id, response_id, rank)
      select judgment_id, chosen_id, 1 from jr union all select judgment_id, rejected_id, 2 from jr
    )
    -- Lookups go through LATERAL ... LIMIT 1 so that each is an index probe: as joins, the
    -- planner (which cannot count the rows of a JSON argument) scans the whole project.
    select (select count(*) from c)::int as imported,
      (select count(*) from jr)::int as judgments,
      (select count(*) from pin left join lateral (
        select 1 as found from prompts e where e.project_id = ${ctx.projectId} and e.content_hash = pin.h limit 1) e on true
        where e.found is null)::int as prompts,
      (select array_agg(cin.l order by cin.l) from cin cross join lateral (
        select e.content_hash from comparisons e where e.project_id = ${ctx.projectId} and e.external_id = cin.x limit 1) e
        where cin.x is not null and e.content_hash <> cin.h) as conflicts`);
  const conflicts = (row!.conflicts ?? []).map((l) => batch.refs[l]!);
  return { imported: row!.imported, prompts: row!.prompts, judgments: row!.judgments, conflicts };
}
