import { describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { listRecentJudgments } from '@/server/annotation/history';
import { leaseComparisons, type TLeasedComparison } from '@/server/annotation/lease';
import type { TSubmitJudgment } from '@/server/annotation/schemas';
import { skipAssignment } from '@/server/annotation/skip';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import { canonicalJson } from '@/server/content/hash';
import { AppError } from '@/server/errors';
import { streamPreferencePairs, type TPreferencePair } from '@/server/exports/preference-pairs';
import { countPreferencePairs, streamTrlPreferenceLines } from '@/server/exports/trl';
import { formatPreferencePair } from '@/server/formats/preference-formats';
import { getGuidelinesForUser, markGuidelinesRead, saveGuidelines } from '@/server/guidelines/guidelines';
import { createProject, updateProject, type TProject } from '@/server/projects/projects';
import type { TCreateProject } from '@/server/projects/schemas';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { importLines, makeUser } from '../helpers/factories';
import { refusal } from '../helpers/refusal';
import { expectStableTrainingSchema, parseLines } from '../helpers/training-schema';

const db = setupTestDatabase();

let projectCounter = 0;

function makeProtocolProject(settings: Partial<TCreateProject> = {}): Promise<TProject> {
  return createProject(db.current.handle.db, { slug: `proto-${Date.now().toString(36)}-${projectCounter++}`, name: 'Protocol', ...settings });
}

/** One import line whose responses are plain assistant texts by models m0, m1, ... */
function line(id: string, prompt: string | TMessage[], texts: (string | TMessage[])[]): string {
  return JSON.stringify({ id, prompt, responses: texts.map((content, i) => ({ content, model: `m${i}` })) });
}

async function leaseOne(project: TProject, annotator: TSessionUser): Promise<TLeasedComparison> {
  const [item] = await leaseComparisons(db.current.handle.db, { projectId: project.id, annotatorId: annotator.id, leaseSeconds: project.leaseSeconds, want: 1 });
  expect(item).toBeDefined();
  return item!;
}

function lease(project: TProject, annotator: TSessionUser, want = 1) {
  return leaseComparisons(db.current.handle.db, { projectId: project.id, annotatorId: annotator.id, leaseSeconds: project.leaseSeconds, want });
}

/** The shown position of the response whose final message reads `text`. */
function at(item: TLeasedComparison, text: string): number {
  const position = item.responses.findIndex((r) => r.messages.at(-1)!.content === text);
  expect(position, `"${text}" is not among the shown responses`).toBeGreaterThanOrEqual(0);
  return position;
}

type TVerdict = Omit<TSubmitJudgment, 'assignmentId' | 'clientSubmissionId' | 'timeSpentMs'> & { timeSpentMs?: number };

function submit(annotator: TSessionUser, item: TLeasedComparison, verdict: TVerdict) {
  return submitJudgment(db.current.handle.db, {
    annotatorId: annotator.id,
    assignmentId: item.assignmentId,
    clientSubmissionId: crypto.randomUUID(),
    timeSpentMs: 1000,
    ...verdict,
  });
}

/** Ranks texts (groups of texts, best first) as shown positions of `item`. */
function ranking(item: TLeasedComparison, groups: string[][]): number[][] {
  return groups.map((g) => g.map((text) => at(item, text)));
}

async function exportPairs(project: TProject): Promise<TPreferencePair[]> {
  const pairs: TPreferencePair[] = [];
  // The prompt hash travels with each pair for dataset splits; it is not part of a pair's content.
  for await (const batch of streamPreferencePairs(db.current.handle.sql, project.id)) pairs.push(...batch.map(({ promptHash: _, ...pair }) => pair));
  // The TRL file is the same pairs in TRL's training form, one JSON object a line (the lines
  // that first show a shape lead, so compare them as a set), with one schema from its first line.
  let text = '';
  for await (const chunk of streamTrlPreferenceLines(db.current.handle.sql, project.id)) text += chunk;
  const lines = parseLines(text);
  // PostgreSQL writes a message's keys in jsonb's order, TypeScript in its own: compare the values.
  const sorted = (xs: unknown[]) => xs.map((x) => canonicalJson(x)).sort();
  expect(sorted(lines)).toEqual(sorted(pairs.map((p) => (formatPreferencePair(p, 'trl') as { line: object }).line)));
  if (lines.length > 0) expectStableTrainingSchema(lines);
  expect(await countPreferencePairs(db.current.handle.sql, project.id)).toBe(pairs.length);
  return pairs;
}

const finalText = (messages: TMessage[]) => messages.at(-1)!.content;

/** Each pair as "chosen > rejected" final texts, sorted, for set comparisons. */
const pairTexts = (pairs: TPreferencePair[]) => pairs.map((p) => `${finalText(p.chosen)} > ${finalText(p.rejected)}`).sort();

interface TJudgmentRow {
  id: number;
  chosen_response_id: number | null;
  rejected_response_id: number | null;
  chosen_position: number | null;
  strength: string | null;
  rank_strengths: string[] | null;
  edited_response_id: number | null;
  flags: string[];
  guidelines_version: number | null;
}

async function judgmentOf(assignmentId: number): Promise<TJudgmentRow> {
  const [row] = await db.current.handle.sql<TJudgmentRow[]>`
    select id::int, chosen_response_id::int, rejected_response_id::int, chosen_position, strength, rank_strengths,
      edited_response_id::int, flags, guidelines_version
    from judgments where assignment_id = ${assignmentId}`;
  expect(row, `no judgment for assignment ${assignmentId}`).toBeDefined();
  return row!;
}

async function judgmentCount(assignmentId: number): Promise<number> {
  const [row] = await db.current.handle.sql<{ n: number }[]>`select count(*)::int as n from judgments where assignment_id = ${assignmentId}`;
  return row!.n;
}

/** The judgment's ranks as final text -> rank. */
async function ranksOf(judgmentId: number): Promise<Record<string, number>> {
  const rows = await db.current.handle.sql<{ messages: TMessage[]; rank: number }[]>`
    select r.messages, jr.rank from judgment_ranks jr join responses r on r.id = jr.response_id where jr.judgment_id = ${judgmentId}`;
  return Object.fromEntries(rows.map((r) => [finalText(r.messages), r.rank]));
}

/** The response id shown at `position` of an assignment. */
async function shownId(assignmentId: number, position: number): Promise<number> {
  const [row] = await db.current.handle.sql<{ id: number }[]>`
    select (shown_response_ids[${position + 1}::int])::int as id from assignments where id = ${assignmentId}`;
  return row!.id;
}

async function editResponsesOf(project: TProject) {
  return db.current.handle.sql<{ id: number; messages: TMessage[]; parent_response_id: number | null; author_id: number | null; prompt_id: number; model: string | null }[]>`
    select r.id::int, r.messages, r.parent_response_id::int, r.author_id::int, r.prompt_id::int, r.model
    from responses r join prompts p on p.id = r.prompt_id
    where p.project_id = ${project.id} and r.origin = 'edit' order by r.id`;
}

async function promptIdOf(comparisonId: number): Promise<number> {
  const [row] = await db.current.handle.sql<{ id: number }[]>`select prompt_id::int as id from comparisons where id = ${comparisonId}`;
  return row!.id;
}

describe('the edit step', () => {
  it('optional: stores the edit as a response ranked first, and exports edited>chosen, edited>rejected, chosen>rejected', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'optional' });
    await importLines(handle, project, [line('edit-1', 'Name a prime.', ['Seven is prime.', 'Nine is prime.'])]);
    const item = await leaseOne(project, annotator);
    const chosenPosition = at(item, 'Seven is prime.');
    const { judgmentId } = await submit(annotator, item, { chosenPosition, strength: 'better', edit: 'Seven is a prime number.' });

    const chosenId = await shownId(item.assignmentId, chosenPosition);
    const rejectedId = await shownId(item.assignmentId, 1 - chosenPosition);
    const [edit, ...others] = await editResponsesOf(project);
    expect(others).toEqual([]);
    expect(edit).toEqual({
      id: expect.any(Number),
      messages: [{ role: 'assistant', content: 'Seven is a prime number.' }],
      parent_response_id: chosenId,
      author_id: annotator.id,
      prompt_id: await promptIdOf(item.comparisonId),
      model: null,
    });
    expect(await judgmentOf(item.assignmentId)).toMatchObject({
      id: judgmentId,
      chosen_response_id: chosenId,
      rejected_response_id: rejectedId,
      chosen_position: chosenPosition,
      strength: 'better',
      edited_response_id: edit!.id,
    });
    expect(await ranksOf(judgmentId)).toEqual({ 'Seven is a prime number.': 1, 'Seven is prime.': 2, 'Nine is prime.': 3 });

    const pairs = await exportPairs(project);
    expect(pairs).toHaveLength(3);
    const byRelation = Object.fromEntries(pairs.map((p) => [p.metadata.relation, p]));
    expect(Object.keys(byRelation).sort()).toEqual(['chosen>rejected', 'edited>chosen', 'edited>rejected']);
    const prompt = [{ role: 'user', content: 'Name a prime.' }];
    const edited = [{ role: 'assistant', content: 'Seven is a prime number.' }];
    const chosen = [{ role: 'assistant', content: 'Seven is prime.' }];
    const rejected = [{ role: 'assistant', content: 'Nine is prime.' }];
    expect(byRelation['edited>chosen']).toMatchObject({ prompt, chosen: edited, rejected: chosen });
    expect(byRelation['edited>rejected']).toMatchObject({ prompt, chosen: edited, rejected });
    expect(byRelation['chosen>rejected']).toMatchObject({ prompt, chosen, rejected });
    // The annotator rated the original choice, not the rewrite.
    expect(byRelation['edited>chosen']!.metadata.strength).toBeNull();
    expect(byRelation['edited>rejected']!.metadata.strength).toBeNull();
    expect(byRelation['chosen>rejected']!.metadata.strength).toBe('better');
    expect(byRelation['edited>chosen']!.metadata).toMatchObject({ chosen_origin: 'edit', chosen_model: null, rejected_origin: 'model', rejected_model: 'm0' });
    expect(byRelation['edited>rejected']!.metadata).toMatchObject({ chosen_origin: 'edit', chosen_model: null, rejected_model: 'm1' });
    expect(byRelation['chosen>rejected']!.metadata).toMatchObject({ chosen_origin: 'model', chosen_model: 'm0', rejected_model: 'm1' });
    for (const pair of pairs) {
      expect(pair.metadata).toMatchObject({ judgment_id: judgmentId, comparison_id: item.comparisonId, comparison_external_id: 'edit-1', annotator_id: annotator.id });
    }
  });

  it('optional: an unchanged or blank edit stores no edit', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'optional' });
    await importLines(handle, project, [line('same-1', 'Name a prime.', ['Seven.', 'Nine.']), line('same-2', 'Name an even number.', ['Four.', 'Five.'])]);

    const first = await leaseOne(project, annotator);
    const chosenText = first.responses[0]!.messages[0]!.content;
    const unchanged = await submit(annotator, first, { chosenPosition: 0, strength: 'slightly_better', edit: chosenText });
    const second = await leaseOne(project, annotator);
    const blank = await submit(annotator, second, { chosenPosition: 1, strength: 'better', edit: '  \n ' });

    expect(await editResponsesOf(project)).toEqual([]);
    for (const { judgmentId } of [unchanged, blank]) {
      const [row] = await handle.sql<{ edited: number | null }[]>`select edited_response_id as edited from judgments where id = ${judgmentId}`;
      expect(row!.edited).toBeNull();
      expect(Object.values(await ranksOf(judgmentId)).sort()).toEqual([1, 2]);
    }
    const pairs = await exportPairs(project);
    expect(pairs.map((p) => p.metadata.relation)).toEqual(['chosen>rejected', 'chosen>rejected']);
    expect(pairs[0]!.chosen).toEqual([{ role: 'assistant', content: chosenText }]);
  });

  it('required: refuses a submit without an edit or with an unchanged one, and stores nothing', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'required' });
    await importLines(handle, project, [line('req-1', 'Name a prime.', ['Seven is prime.', 'Nine is prime.'])]);
    const item = await leaseOne(project, annotator);
    const chosenPosition = at(item, 'Seven is prime.');

    await refusal(submit(annotator, item, { chosenPosition, strength: 'better' }), 'BAD_REQUEST', 'edit');
    await refusal(submit(annotator, item, { chosenPosition, strength: 'better', edit: '   ' }), 'BAD_REQUEST', 'edit');
    await refusal(submit(annotator, item, { chosenPosition, strength: 'better', edit: 'Seven is prime.' }), 'BAD_REQUEST', 'edit');
    expect(await judgmentCount(item.assignmentId)).toBe(0);
    expect(await editResponsesOf(project)).toEqual([]);

    // The assignment is still the annotator's to submit, with a real edit.
    const { judgmentId } = await submit(annotator, item, { chosenPosition, strength: 'better', edit: 'Seven is the prime I pick.' });
    expect(await ranksOf(judgmentId)).toEqual({ 'Seven is the prime I pick.': 1, 'Seven is prime.': 2, 'Nine is prime.': 3 });
    expect(await editResponsesOf(project)).toHaveLength(1);
  });

  it('off: refuses an edit', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off' });
    await importLines(handle, project, [line('off-1', 'Name a prime.', ['Seven.', 'Nine.'])]);
    const item = await leaseOne(project, annotator);
    await refusal(submit(annotator, item, { chosenPosition: 0, strength: 'better', edit: 'Something else.' }), 'BAD_REQUEST', 'edit');
    expect(await judgmentCount(item.assignmentId)).toBe(0);
    expect(await editResponsesOf(project)).toEqual([]);
    const { judgmentId } = await submit(annotator, item, { chosenPosition: 0, strength: 'better' });
    expect(Object.values(await ranksOf(judgmentId)).sort()).toEqual([1, 2]);
  });

  it('replaces only the final assistant message of a multi-message response, keeping the tool call and its result', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'optional' });
    const withTools: TMessage[] = [
      { role: 'assistant', content: '', tool_calls: [{ id: 'call-7', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', content: '{"temp": -3}', tool_call_id: 'call-7', name: 'weather' },
      { role: 'assistant', content: 'It is -3 degrees in Oslo.' },
    ];
    await importLines(handle, project, [line('tools-1', 'Weather in Oslo?', [withTools, 'I cannot know that.'])]);
    const item = await leaseOne(project, annotator);
    const chosenPosition = at(item, 'It is -3 degrees in Oslo.');
    expect(item.responses[chosenPosition]!.messages).toEqual(withTools);
    await submit(annotator, item, { chosenPosition, strength: 'significantly_better', edit: 'It is -3 °C in Oslo right now.' });

    const expectedEdit = [withTools[0], withTools[1], { role: 'assistant', content: 'It is -3 °C in Oslo right now.' }];
    const [edit] = await editResponsesOf(project);
    expect(edit!.messages).toEqual(expectedEdit);
    expect(edit!.parent_response_id).toBe(await shownId(item.assignmentId, chosenPosition));

    const byRelation = Object.fromEntries((await exportPairs(project)).map((p) => [p.metadata.relation, p]));
    expect(byRelation['edited>chosen']!.chosen).toEqual(expectedEdit);
    expect(byRelation['edited>chosen']!.rejected).toEqual(withTools);
    expect(byRelation['edited>rejected']!.rejected).toEqual([{ role: 'assistant', content: 'I cannot know that.' }]);
    expect(byRelation['chosen>rejected']!.chosen).toEqual(withTools);
  });
});

describe('rankings', () => {
  const texts = ['alpha', 'bravo', 'charlie', 'delta'];

  it('a ranking of three is stored as ranks and exported as three pairs', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off' });
    await importLines(handle, project, [line('r3', 'Rank three.', texts.slice(0, 3))]);
    const item = await leaseOne(project, annotator);
    expect(item.responses).toHaveLength(3);
    const { judgmentId } = await submit(annotator, item, { ranking: ranking(item, [['charlie'], ['alpha'], ['bravo']]), flags: [] });

    expect(await ranksOf(judgmentId)).toEqual({ charlie: 1, alpha: 2, bravo: 3 });
    expect(await judgmentOf(item.assignmentId)).toMatchObject({
      chosen_response_id: null,
      rejected_response_id: null,
      chosen_position: null,
      strength: null,
      rank_strengths: null,
      edited_response_id: null,
    });

    const pairs = await exportPairs(project);
    expect(pairs.map((p) => [finalText(p.chosen), finalText(p.rejected), p.metadata.relation, p.metadata.strength])).toEqual([
      ['charlie', 'alpha', 'rank 1>rank 2', null],
      ['charlie', 'bravo', 'rank 1>rank 3', null],
      ['alpha', 'bravo', 'rank 2>rank 3', null],
    ]);
    expect(pairs[0]!.metadata).toMatchObject({ chosen_model: 'm2', rejected_model: 'm0', comparison_external_id: 'r3' });
    expect(pairs.every((p) => p.prompt[0]!.content === 'Rank three.')).toBe(true);
  });

  it('a ranking of four gives six pairs: every response above every lower one', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off' });
    await importLines(handle, project, [line('r4', 'Rank four.', texts)]);
    const item = await leaseOne(project, annotator);
    await submit(annotator, item, { ranking: ranking(item, [['delta'], ['bravo'], ['alpha'], ['charlie']]) });
    const pairs = await exportPairs(project);
    expect(pairs).toHaveLength(6);
    expect(pairTexts(pairs)).toEqual(
      ['delta > bravo', 'delta > alpha', 'delta > charlie', 'bravo > alpha', 'bravo > charlie', 'alpha > charlie'].sort(),
    );
  });

  it('a ranking of eight, the most a comparison holds, gives 28 pairs', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off' });
    const eight = Array.from({ length: 8 }, (_, i) => `response ${i}`);
    await importLines(handle, project, [line('r8', 'Rank eight.', eight)]);
    const item = await leaseOne(project, annotator);
    expect(item.responses).toHaveLength(8);
    const order = [...eight].reverse();
    const { judgmentId } = await submit(annotator, item, { ranking: ranking(item, order.map((t) => [t])) });
    expect(await ranksOf(judgmentId)).toEqual(Object.fromEntries(order.map((t, i) => [t, i + 1])));
    const pairs = await exportPairs(project);
    expect(pairs).toHaveLength(28);
    expect(pairTexts(pairs)).toEqual(order.flatMap((hi, i) => order.slice(i + 1).map((lo) => `${hi} > ${lo}`)).sort());
  });

  it('tied responses share a rank and give no pair between them', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off', allowTies: true });
    await importLines(handle, project, [line('tie', 'Rank with a tie.', texts)]);
    const item = await leaseOne(project, annotator);
    const { judgmentId } = await submit(annotator, item, { ranking: ranking(item, [['alpha'], ['bravo', 'charlie'], ['delta']]) });
    expect(await ranksOf(judgmentId)).toEqual({ alpha: 1, bravo: 2, charlie: 2, delta: 3 });
    const pairs = await exportPairs(project);
    expect(pairTexts(pairs)).toEqual(['alpha > bravo', 'alpha > charlie', 'alpha > delta', 'bravo > delta', 'charlie > delta'].sort());
    expect(pairs.find((p) => finalText(p.chosen) === 'bravo' && finalText(p.rejected) === 'delta')!.metadata.relation).toBe('rank 2>rank 3');
  });

  it('refuses ties when the project does not allow them', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off', allowTies: false });
    await importLines(handle, project, [line('notie', 'No ties here.', texts.slice(0, 3))]);
    const item = await leaseOne(project, annotator);
    await refusal(submit(annotator, item, { ranking: ranking(item, [['alpha', 'bravo'], ['charlie']]) }), 'BAD_REQUEST', 'ranking');
    expect(await judgmentCount(item.assignmentId)).toBe(0);
  });

  it('refuses a ranking that misses a response, repeats one, or names one that is not shown', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off', allowTies: true });
    await importLines(handle, project, [line('bad-rank', 'Rank carefully.', texts.slice(0, 3))]);
    const item = await leaseOne(project, annotator);
    const [a, b, c] = [at(item, 'alpha'), at(item, 'bravo'), at(item, 'charlie')];
    for (const bad of [
      [[a], [b]],
      [[a], [b], [a]],
      [[a, b], [b, c]],
      [[a], [b], [c], [3]],
      [[a], [b, 5]],
    ]) {
      await refusal(submit(annotator, item, { ranking: bad }), 'BAD_REQUEST', 'ranking');
    }
    // All in one rank is no ranking at all.
    await refusal(submit(annotator, item, { ranking: [[a, b, c]] }), 'BAD_REQUEST', 'ranking');
    expect(await judgmentCount(item.assignmentId)).toBe(0);
  });

  it('with rankingStrength: requires one strength per boundary, and exports the strongest spanned', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off', rankingStrength: true });
    await importLines(handle, project, [line('strength', 'Rank with strengths.', texts)]);
    const item = await leaseOne(project, annotator);
    const order = ranking(item, [['alpha'], ['bravo'], ['charlie'], ['delta']]);
    await refusal(submit(annotator, item, { ranking: order }), 'BAD_REQUEST', 'rankStrengths');
    await refusal(submit(annotator, item, { ranking: order, rankStrengths: ['better', 'better'] }), 'BAD_REQUEST', 'rankStrengths');
    await refusal(submit(annotator, item, { ranking: order, rankStrengths: ['better', 'better', 'better', 'better'] }), 'BAD_REQUEST', 'rankStrengths');
    expect(await judgmentCount(item.assignmentId)).toBe(0);

    await submit(annotator, item, { ranking: order, rankStrengths: ['marginally_better', 'better', 'slightly_better'] });
    expect((await judgmentOf(item.assignmentId)).rank_strengths).toEqual(['marginally_better', 'better', 'slightly_better']);
    const strengthOf = Object.fromEntries((await exportPairs(project)).map((p) => [`${finalText(p.chosen)} > ${finalText(p.rejected)}`, p.metadata.strength]));
    expect(strengthOf).toEqual({
      // Adjacent ranks: the strength given between them.
      'alpha > bravo': 'marginally_better',
      'bravo > charlie': 'better',
      'charlie > delta': 'slightly_better',
      // Further apart: the strongest step spanned, wherever it lies.
      'alpha > charlie': 'better',
      'bravo > delta': 'better',
      'alpha > delta': 'better',
    });
  });

  it('with rankingStrength and ties: strengths are per boundary between groups', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off', rankingStrength: true, allowTies: true });
    await importLines(handle, project, [line('strength-tie', 'Rank with strengths and a tie.', texts)]);
    const item = await leaseOne(project, annotator);
    const order = ranking(item, [['alpha'], ['bravo', 'charlie'], ['delta']]);
    await refusal(submit(annotator, item, { ranking: order, rankStrengths: ['better', 'better', 'better'] }), 'BAD_REQUEST', 'rankStrengths');
    await submit(annotator, item, { ranking: order, rankStrengths: ['slightly_better', 'significantly_better'] });
    const strengthOf = Object.fromEntries((await exportPairs(project)).map((p) => [`${finalText(p.chosen)} > ${finalText(p.rejected)}`, p.metadata.strength]));
    expect(strengthOf).toEqual({
      'alpha > bravo': 'slightly_better',
      'alpha > charlie': 'slightly_better',
      'bravo > delta': 'significantly_better',
      'charlie > delta': 'significantly_better',
      'alpha > delta': 'significantly_better',
    });
  });

  it('an edit of a ranking with a single best response is ranked above it', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'optional' });
    await importLines(handle, project, [line('rank-edit', 'Rank and edit.', texts.slice(0, 3))]);
    const item = await leaseOne(project, annotator);
    const { judgmentId } = await submit(annotator, item, { ranking: ranking(item, [['bravo'], ['charlie'], ['alpha']]), edit: 'bravo, improved' });
    expect(await ranksOf(judgmentId)).toEqual({ 'bravo, improved': 1, bravo: 2, charlie: 3, alpha: 4 });
    const [edit] = await editResponsesOf(project);
    expect(edit).toMatchObject({ messages: [{ role: 'assistant', content: 'bravo, improved' }], author_id: annotator.id, parent_response_id: await shownId(item.assignmentId, at(item, 'bravo')) });

    const pairs = await exportPairs(project);
    expect(pairs.map((p) => [finalText(p.chosen), finalText(p.rejected), p.metadata.relation, p.metadata.strength, p.metadata.chosen_origin])).toEqual([
      ['bravo, improved', 'bravo', 'edited>rank 1', null, 'edit'],
      ['bravo, improved', 'charlie', 'edited>rank 2', null, 'edit'],
      ['bravo, improved', 'alpha', 'edited>rank 3', null, 'edit'],
      ['bravo', 'charlie', 'rank 1>rank 2', null, 'model'],
      ['bravo', 'alpha', 'rank 1>rank 3', null, 'model'],
      ['charlie', 'alpha', 'rank 2>rank 3', null, 'model'],
    ]);
  });

  it('an edit above a ranking with strengths: the edit pairs carry none, the ranked pairs keep theirs', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'optional', rankingStrength: true });
    await importLines(handle, project, [line('rank-edit-strength', 'Rank, rate and edit.', texts.slice(0, 3))]);
    const item = await leaseOne(project, annotator);
    const { judgmentId } = await submit(annotator, item, {
      ranking: ranking(item, [['bravo'], ['charlie'], ['alpha']]),
      rankStrengths: ['slightly_better', 'significantly_better'],
      edit: 'bravo, improved',
    });
    expect(await ranksOf(judgmentId)).toEqual({ 'bravo, improved': 1, bravo: 2, charlie: 3, alpha: 4 });
    const pairs = await exportPairs(project);
    expect(pairs.map((p) => [finalText(p.chosen), finalText(p.rejected), p.metadata.relation, p.metadata.strength])).toEqual([
      ['bravo, improved', 'bravo', 'edited>rank 1', null],
      ['bravo, improved', 'charlie', 'edited>rank 2', null],
      ['bravo, improved', 'alpha', 'edited>rank 3', null],
      ['bravo', 'charlie', 'rank 1>rank 2', 'slightly_better'],
      ['bravo', 'alpha', 'rank 1>rank 3', 'significantly_better'],
      ['charlie', 'alpha', 'rank 2>rank 3', 'significantly_better'],
    ]);
  });

  it('refuses an edit when the top rank is a tie', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'optional', allowTies: true });
    await importLines(handle, project, [line('tie-top', 'Tie at the top.', texts.slice(0, 3))]);
    const item = await leaseOne(project, annotator);
    const order = ranking(item, [['alpha', 'bravo'], ['charlie']]);
    await refusal(submit(annotator, item, { ranking: order, edit: 'a merged answer' }), 'BAD_REQUEST', 'edit');
    expect(await judgmentCount(item.assignmentId)).toBe(0);
    expect(await editResponsesOf(project)).toEqual([]);
    const { judgmentId } = await submit(annotator, item, { ranking: order });
    expect(await ranksOf(judgmentId)).toEqual({ alpha: 1, bravo: 1, charlie: 2 });
  });
});

describe('pairs and rankings are not interchangeable', () => {
  it('a pair cannot be submitted as a ranking, nor a ranking as a pair', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off' });
    await importLines(handle, project, [line('as-pair', 'Two.', ['one', 'two']), line('as-ranking', 'Three.', ['one', 'two', 'three'])]);
    const [first, second] = await lease(project, annotator, 2);
    const [pair, triple] = first!.responses.length === 2 ? [first!, second!] : [second!, first!];
    expect(pair.responses).toHaveLength(2);
    expect(triple.responses).toHaveLength(3);

    await refusal(submit(annotator, pair, { ranking: [[0], [1]] }), 'BAD_REQUEST', 'ranking');
    await refusal(submit(annotator, pair, { ranking: [[0], [1]], chosenPosition: 0, strength: 'better' }), 'BAD_REQUEST', 'ranking');
    await refusal(submit(annotator, triple, { chosenPosition: 0, strength: 'better' }), 'BAD_REQUEST', 'ranking');
    expect(await judgmentCount(pair.assignmentId)).toBe(0);
    expect(await judgmentCount(triple.assignmentId)).toBe(0);

    await submit(annotator, pair, { chosenPosition: 1, strength: 'better' });
    await submit(annotator, triple, { ranking: [[2], [1], [0]] });
    expect(await exportPairs(project)).toHaveLength(1 + 3);
  });
});

describe('skipping', () => {
  async function skipReason(assignmentId: number) {
    const [row] = await db.current.handle.sql<{ status: string; skip_reason: string | null }[]>`
      select status, skip_reason from assignments where id = ${assignmentId}`;
    return row;
  }

  it('returns the comparison to the pool at once, stores the reason, and never gives it back to the skipper', async () => {
    const { handle } = db.current;
    const [skipper, other] = [await makeUser(handle), await makeUser(handle)];
    const project = await makeProtocolProject({ judgmentsRequired: 1 });
    await importLines(handle, project, [line('skip-1', 'Skip me.', ['one', 'two'])]);

    const held = await leaseOne(project, skipper);
    expect(await lease(project, other)).toEqual([]);
    expect(await skipAssignment(handle.db, { annotatorId: skipper.id, assignmentId: held.assignmentId, reason: '  I do not read this language  ' })).toEqual({ skipped: true });
    expect(await skipReason(held.assignmentId)).toEqual({ status: 'skipped', skip_reason: 'I do not read this language' });

    // Back in the pool for others at once, but never for the skipper.
    expect(await lease(project, skipper)).toEqual([]);
    const taken = await leaseOne(project, other);
    expect(taken.comparisonId).toBe(held.comparisonId);

    // Lease churn: the other lease expires, the comparison is open again, still not for the skipper.
    await handle.sql`update assignments set expires_at = now() - interval '1 second' where id = ${taken.assignmentId}`;
    expect(await lease(project, skipper, 3)).toEqual([]);
    await handle.sql`update assignments set expires_at = now() - interval '1 second' where id = ${held.assignmentId}`;
    expect(await lease(project, skipper, 3)).toEqual([]);
    expect(await skipReason(held.assignmentId)).toEqual({ status: 'skipped', skip_reason: 'I do not read this language' });

    // The other annotator renews their lease and judges it.
    const again = await leaseOne(project, other);
    expect(again.assignmentId).toBe(taken.assignmentId);
    await submit(other, again, { chosenPosition: 0, strength: 'better' });
    const [row] = await handle.sql<{ judgment_count: number }[]>`select judgment_count from comparisons where id = ${held.comparisonId}`;
    expect(row!.judgment_count).toBe(1);
  });

  it('a skip frees the slot when more judgments are required, too', async () => {
    const { handle } = db.current;
    const [a, b, c] = [await makeUser(handle), await makeUser(handle), await makeUser(handle)];
    const project = await makeProtocolProject({ judgmentsRequired: 2 });
    await importLines(handle, project, [line('skip-2', 'Skip me too.', ['one', 'two'])]);
    const heldA = await leaseOne(project, a);
    await leaseOne(project, b);
    expect(await lease(project, c)).toEqual([]);
    await skipAssignment(handle.db, { annotatorId: a.id, assignmentId: heldA.assignmentId, reason: 'unsure' });
    expect((await leaseOne(project, c)).comparisonId).toBe(heldA.comparisonId);
  });

  it('refuses to skip someone else’s assignment (NOT_FOUND), is idempotent, and blocks a later submit (CONFLICT)', async () => {
    const { handle } = db.current;
    const [owner, stranger] = [await makeUser(handle), await makeUser(handle)];
    const project = await makeProtocolProject();
    await importLines(handle, project, [line('skip-3', 'Mine.', ['one', 'two'])]);
    const item = await leaseOne(project, owner);

    await refusal(skipAssignment(handle.db, { annotatorId: stranger.id, assignmentId: item.assignmentId, reason: 'not mine' }), 'NOT_FOUND', 'assignmentId');
    expect(await skipReason(item.assignmentId)).toEqual({ status: 'active', skip_reason: null });

    await refusal(skipAssignment(handle.db, { annotatorId: owner.id, assignmentId: item.assignmentId, reason: '   ' }), 'BAD_REQUEST', 'reason');
    expect(await skipReason(item.assignmentId)).toEqual({ status: 'active', skip_reason: null });

    await skipAssignment(handle.db, { annotatorId: owner.id, assignmentId: item.assignmentId, reason: 'first reason' });
    await expect(skipAssignment(handle.db, { annotatorId: owner.id, assignmentId: item.assignmentId, reason: 'second reason' })).resolves.toEqual({ skipped: true });
    expect(await skipReason(item.assignmentId)).toEqual({ status: 'skipped', skip_reason: 'first reason' });

    await refusal(submit(owner, item, { chosenPosition: 0, strength: 'better' }), 'CONFLICT');
    expect(await judgmentCount(item.assignmentId)).toBe(0);
  });

  it('refuses to skip an assignment already judged', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject();
    await importLines(handle, project, [line('skip-4', 'Judged.', ['one', 'two'])]);
    const item = await leaseOne(project, annotator);
    await submit(annotator, item, { chosenPosition: 0, strength: 'better' });
    await refusal(skipAssignment(handle.db, { annotatorId: annotator.id, assignmentId: item.assignmentId, reason: 'too late' }), 'CONFLICT');
    expect(await skipReason(item.assignmentId)).toEqual({ status: 'submitted', skip_reason: null });
  });
});

describe('flags', () => {
  it('are stored once each and carried into every exported pair', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off' });
    await importLines(handle, project, [line('flag-pair', 'Flag a pair.', ['one', 'two']), line('flag-rank', 'Flag a ranking.', ['one', 'two', 'three'])]);
    const [first, second] = await lease(project, annotator, 2);
    const [pair, triple] = first!.responses.length === 2 ? [first!, second!] : [second!, first!];

    await refusal(submit(annotator, pair, { chosenPosition: 0, strength: 'better', flags: ['toxic' as never] }), 'BAD_REQUEST', 'flags[0]');
    await submit(annotator, pair, { chosenPosition: 0, strength: 'better', flags: ['unsafe', 'both_bad', 'unsafe'] });
    await submit(annotator, triple, { ranking: [[0], [1], [2]], flags: ['personal_data', 'prompt_unclear'] });
    expect((await judgmentOf(pair.assignmentId)).flags).toEqual(['unsafe', 'both_bad']);
    expect((await judgmentOf(triple.assignmentId)).flags).toEqual(['personal_data', 'prompt_unclear']);

    const pairs = await exportPairs(project);
    expect(pairs).toHaveLength(4);
    const byComparison = (id: string) => pairs.filter((p) => p.metadata.comparison_external_id === id);
    expect(byComparison('flag-pair').map((p) => p.metadata.flags)).toEqual([['unsafe', 'both_bad']]);
    expect(byComparison('flag-rank').map((p) => p.metadata.flags)).toEqual(Array(3).fill(['personal_data', 'prompt_unclear']));
  });

  it('are empty when none are given', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject();
    await importLines(handle, project, [line('no-flags', 'Nothing to flag.', ['one', 'two'])]);
    const item = await leaseOne(project, annotator);
    await submit(annotator, item, { chosenPosition: 0, strength: 'better' });
    expect((await judgmentOf(item.assignmentId)).flags).toEqual([]);
    expect((await exportPairs(project))[0]!.metadata.flags).toEqual([]);
  });
});

describe('guidelines', () => {
  it('are versioned: a change is a new version, the same text is not, an empty text is refused', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const project = await makeProtocolProject();
    const v1 = await saveGuidelines(handle.db, { projectId: project.id, body: '# Rules\nPrefer correct answers.', userId: admin.id });
    expect(v1).toMatchObject({ version: 1, body: '# Rules\nPrefer correct answers.' });
    const same = await saveGuidelines(handle.db, { projectId: project.id, body: '  # Rules\nPrefer correct answers.\n', userId: admin.id });
    expect(same).toMatchObject({ version: 1 });
    const v2 = await saveGuidelines(handle.db, { projectId: project.id, body: '# Rules\nPrefer correct, short answers.', userId: admin.id });
    expect(v2).toMatchObject({ version: 2, body: '# Rules\nPrefer correct, short answers.' });
    await refusal(saveGuidelines(handle.db, { projectId: project.id, body: '  \n ', userId: admin.id }), 'BAD_REQUEST', 'body');
    // Back to the first text: a new version, not a rewrite of history.
    expect(await saveGuidelines(handle.db, { projectId: project.id, body: '# Rules\nPrefer correct answers.', userId: admin.id })).toMatchObject({ version: 3 });

    const rows = await handle.sql<{ version: number; created_by: number }[]>`
      select version, created_by::int from project_guidelines where project_id = ${project.id} order by version`;
    expect(rows).toEqual([1, 2, 3].map((version) => ({ version, created_by: admin.id })));
  });

  it('are unread for a new user and after a new version, read once marked', async () => {
    const { handle } = db.current;
    const [admin, annotator] = [await makeUser(handle, 'admin'), await makeUser(handle)];
    const project = await makeProtocolProject();
    expect(await getGuidelinesForUser(handle.db, { projectId: project.id, userId: annotator.id })).toEqual({ latest: null, unread: false });

    await saveGuidelines(handle.db, { projectId: project.id, body: 'Version one.', userId: admin.id });
    expect(await getGuidelinesForUser(handle.db, { projectId: project.id, userId: annotator.id })).toMatchObject({ latest: { version: 1, body: 'Version one.' }, unread: true });
    await markGuidelinesRead(handle.db, { projectId: project.id, userId: annotator.id, version: 1 });
    expect(await getGuidelinesForUser(handle.db, { projectId: project.id, userId: annotator.id })).toMatchObject({ latest: { version: 1 }, unread: false });

    await saveGuidelines(handle.db, { projectId: project.id, body: 'Version two.', userId: admin.id });
    expect(await getGuidelinesForUser(handle.db, { projectId: project.id, userId: annotator.id })).toMatchObject({ latest: { version: 2, body: 'Version two.' }, unread: true });
    await markGuidelinesRead(handle.db, { projectId: project.id, userId: annotator.id, version: 2 });
    // A stale page marking the old version read does not make the new one unread again.
    await markGuidelinesRead(handle.db, { projectId: project.id, userId: annotator.id, version: 1 });
    expect(await getGuidelinesForUser(handle.db, { projectId: project.id, userId: annotator.id })).toMatchObject({ latest: { version: 2 }, unread: false });
    // Reading is per user.
    expect(await getGuidelinesForUser(handle.db, { projectId: project.id, userId: admin.id })).toMatchObject({ unread: true });
  });

  // A stale client must not mark future versions as read.
  it('marking a version that does not exist yet is refused and does not hide the versions saved later', async () => {
    const { handle } = db.current;
    const [admin, annotator] = [await makeUser(handle, 'admin'), await makeUser(handle)];
    const project = await makeProtocolProject();
    await saveGuidelines(handle.db, { projectId: project.id, body: 'Version one.', userId: admin.id });
    await markGuidelinesRead(handle.db, { projectId: project.id, userId: annotator.id, version: 99 }).catch(() => {});
    await saveGuidelines(handle.db, { projectId: project.id, body: 'Version two.', userId: admin.id });
    expect(await getGuidelinesForUser(handle.db, { projectId: project.id, userId: annotator.id })).toMatchObject({ latest: { version: 2 }, unread: true });
  });

  it('judgments record the latest version at the time, or null when there is none', async () => {
    const { handle } = db.current;
    const [admin, annotator] = [await makeUser(handle, 'admin'), await makeUser(handle)];
    const project = await makeProtocolProject();
    await importLines(handle, project, [line('g-0', 'zero', ['a', 'b']), line('g-1', 'one', ['a', 'b']), line('g-2', 'two', ['a', 'b'])]);

    const before = await leaseOne(project, annotator);
    await submit(annotator, before, { chosenPosition: 0, strength: 'better' });
    await saveGuidelines(handle.db, { projectId: project.id, body: 'Version one.', userId: admin.id });
    const during = await leaseOne(project, annotator);
    await submit(annotator, during, { chosenPosition: 0, strength: 'better' });
    await saveGuidelines(handle.db, { projectId: project.id, body: 'Version two.', userId: admin.id });
    const after = await leaseOne(project, annotator);
    await submit(annotator, after, { chosenPosition: 0, strength: 'better' });

    expect((await judgmentOf(before.assignmentId)).guidelines_version).toBeNull();
    expect((await judgmentOf(during.assignmentId)).guidelines_version).toBe(1);
    expect((await judgmentOf(after.assignmentId)).guidelines_version).toBe(2);
    expect((await exportPairs(project)).map((p) => p.metadata.guidelines_version)).toEqual([null, 1, 2]);
  });
});

describe('history', () => {
  it('lists only the annotator’s own judgments in the project, newest first, with preview, strength, edit and flags', async () => {
    const { handle } = db.current;
    const [annotator, colleague] = [await makeUser(handle), await makeUser(handle)];
    const project = await makeProtocolProject({ judgmentsRequired: 2, editMode: 'optional' });
    const elsewhere = await makeProtocolProject();
    const longQuestion = `Explain ${'very '.repeat(60)}carefully.`;
    const chat: TMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'First question?' },
      { role: 'assistant', content: 'First answer.' },
      { role: 'user', content: 'Second question?' },
    ];
    await importLines(handle, project, [
      line('h-pair', chat, ['yes', 'no']),
      line('h-rank', longQuestion, ['one', 'two', 'three']),
    ]);
    await importLines(handle, elsewhere, [line('h-else', 'Elsewhere?', ['x', 'y'])]);

    const items = await lease(project, annotator, 2);
    const pairItem = items.find((i) => i.responses.length === 2)!;
    const rankItem = items.find((i) => i.responses.length === 3)!;
    const { judgmentId: pairJudgment } = await submit(annotator, pairItem, {
      chosenPosition: at(pairItem, 'yes'),
      strength: 'slightly_better',
      edit: 'yes, certainly',
      flags: ['both_bad'],
      timeSpentMs: 4200,
    });
    const { judgmentId: rankJudgment } = await submit(annotator, rankItem, { ranking: [[0], [1], [2]], timeSpentMs: 900 });
    // Someone else's judgment in the same project, and the annotator's own in another project.
    const colleagueItem = await leaseOne(project, colleague);
    await submit(colleague, colleagueItem, { chosenPosition: 0, strength: 'better' });
    await submit(annotator, await leaseOne(elsewhere, annotator), { chosenPosition: 0, strength: 'better' });

    const history = await listRecentJudgments(handle.db, { projectId: project.id, annotatorId: annotator.id });
    expect(history).toEqual([
      {
        judgmentId: rankJudgment,
        // Server-side only: the router turns it into the annotator's handle.
        assignmentId: expect.any(Number),
        createdAt: expect.any(String),
        promptPreview: longQuestion.slice(0, 160),
        responses: 3,
        strength: null,
        edited: false,
        flags: [],
        timeSpentMs: 900,
      },
      {
        judgmentId: pairJudgment,
        assignmentId: expect.any(Number),
        createdAt: expect.any(String),
        promptPreview: 'Second question?',
        responses: 2,
        strength: 'slightly_better',
        edited: true,
        flags: ['both_bad'],
        timeSpentMs: 4200,
      },
    ]);
    expect(Date.parse(history[0]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(history[1]!.createdAt));
    expect(await listRecentJudgments(handle.db, { projectId: project.id, annotatorId: annotator.id, limit: 1 })).toEqual([history[0]]);
    expect(await listRecentJudgments(handle.db, { projectId: elsewhere.id, annotatorId: colleague.id })).toEqual([]);
  });
});

describe('multi-turn conversations and tool messages', () => {
  it('keeps prompts and multi-message responses intact through import, leasing and export', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off' });
    const prompt: TMessage[] = [
      { role: 'system', content: 'You can call tools. Environment: ipython' },
      { role: 'user', content: 'What is 2**10?' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call-1', type: 'function', function: { name: 'python', arguments: '{"code":"print(2**10)"}' } }] },
      { role: 'ipython', content: '1024' },
      { role: 'assistant', content: '2**10 is 1024.' },
      { role: 'user', content: 'And the weather in Paris?' },
    ];
    const toolResponse: TMessage[] = [
      { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'call-2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', content: '{"sky":"clear","temp":21}', tool_call_id: 'call-2', name: 'get_weather' },
      { role: 'assistant', content: 'Clear skies and 21 °C in Paris.' },
    ];
    const plainResponse: TMessage[] = [{ role: 'assistant', content: 'I cannot look up the weather.' }];
    await importLines(handle, project, [JSON.stringify({ id: 'multi', prompt, responses: [{ content: toolResponse, model: 'tooler' }, { content: plainResponse, model: 'plain' }] })]);

    const [stored] = await handle.sql<{ prompt: TMessage[]; responses: TMessage[][] }[]>`
      select p.messages as prompt,
        (select json_agg(r.messages order by cr.position) from comparison_responses cr join responses r on r.id = cr.response_id where cr.comparison_id = c.id) as responses
      from comparisons c join prompts p on p.id = c.prompt_id where c.project_id = ${project.id}`;
    expect(stored).toEqual({ prompt, responses: [toolResponse, plainResponse] });

    const item = await leaseOne(project, annotator);
    expect(item.prompt).toEqual(prompt);
    const chosenPosition = at(item, 'Clear skies and 21 °C in Paris.');
    expect(item.responses[chosenPosition]!.messages).toEqual(toolResponse);
    expect(item.responses[1 - chosenPosition]!.messages).toEqual(plainResponse);
    await submit(annotator, item, { chosenPosition, strength: 'significantly_better' });

    const [pair, ...rest] = await exportPairs(project);
    expect(rest).toEqual([]);
    expect({ prompt: pair!.prompt, chosen: pair!.chosen, rejected: pair!.rejected }).toEqual({ prompt, chosen: toolResponse, rejected: plainResponse });
    expect(pair!.metadata).toMatchObject({ chosen_model: 'tooler', rejected_model: 'plain', strength: 'significantly_better', relation: 'chosen>rejected' });
  });

  it('stores a null content of a tool-call message as an empty string', async () => {
    const { handle } = db.current;
    const project = await makeProtocolProject();
    const call = { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] };
    await importLines(handle, project, [JSON.stringify({ prompt: 'Call f.', responses: [{ content: [call, { role: 'tool', content: 'ok', tool_call_id: 'c' }, { role: 'assistant', content: 'Done.' }] }, { content: 'No.' }] })]);
    const [row] = await handle.sql<{ messages: TMessage[] }[]>`
      select r.messages from responses r join prompts p on p.id = r.prompt_id where p.project_id = ${project.id} order by r.id limit 1`;
    expect(row!.messages[0]).toEqual({ ...call, content: '' });
  });
});

describe('updateProject', () => {
  async function requiredOf(project: TProject) {
    const rows = await db.current.handle.sql<{ external_id: string; judgments_required: number; judgment_count: number }[]>`
      select external_id, judgments_required, judgment_count from comparisons where project_id = ${project.id} order by id`;
    return [...rows];
  }

  it('raising judgmentsRequired reopens complete comparisons for other annotators', async () => {
    const { handle } = db.current;
    const [first, second] = [await makeUser(handle), await makeUser(handle)];
    const project = await makeProtocolProject({ judgmentsRequired: 1 });
    await importLines(handle, project, [line('u-0', 'zero', ['a', 'b']), line('u-1', 'one', ['a', 'b'])]);
    for (let i = 0; i < 2; i++) await submit(first, await leaseOne(project, first), { chosenPosition: 0, strength: 'better' });
    expect(await lease(project, second)).toEqual([]);

    const updated = await updateProject(handle.db, project.id, { judgmentsRequired: 2 });
    expect(updated.judgmentsRequired).toBe(2);
    expect(await requiredOf(project)).toEqual([
      { external_id: 'u-0', judgments_required: 2, judgment_count: 1 },
      { external_id: 'u-1', judgments_required: 2, judgment_count: 1 },
    ]);
    // Open again, but not for the annotator who already judged them.
    expect(await lease(project, first)).toEqual([]);
    const reopened = await lease(project, second, 5);
    expect(reopened).toHaveLength(2);
    for (const item of reopened) await submit(second, item, { chosenPosition: 1, strength: 'better' });
    expect(await exportPairs(project)).toHaveLength(4);
  });

  it('lowering judgmentsRequired never goes below the judgments a comparison has', async () => {
    const { handle } = db.current;
    const [first, second] = [await makeUser(handle), await makeUser(handle)];
    const project = await makeProtocolProject({ judgmentsRequired: 3 });
    await importLines(handle, project, [line('l-0', 'zero', ['a', 'b']), line('l-1', 'one', ['a', 'b'])]);
    // u-0 gets two judgments, u-1 none.
    for (const annotator of [first, second]) {
      const item = (await lease(project, annotator, 2)).find((i) => i.prompt[0]!.content === 'zero')!;
      await submit(annotator, item, { chosenPosition: 0, strength: 'better' });
    }
    await updateProject(handle.db, project.id, { judgmentsRequired: 1 });
    expect(await requiredOf(project)).toEqual([
      { external_id: 'l-0', judgments_required: 2, judgment_count: 2 },
      { external_id: 'l-1', judgments_required: 1, judgment_count: 0 },
    ]);
    // Comparisons imported afterwards get the new setting.
    const updated = { ...project, judgmentsRequired: 1 };
    await importLines(handle, updated, [line('l-2', 'two', ['a', 'b'])]);
    expect((await requiredOf(project)).at(-1)).toEqual({ external_id: 'l-2', judgments_required: 1, judgment_count: 0 });
  });

  it('an update without settings is a no-op', async () => {
    const project = await makeProtocolProject({ judgmentsRequired: 2 });
    const outcome = await updateProject(db.current.handle.db, project.id, {}).then(
      (row) => (row.id === project.id && row.judgmentsRequired === 2 ? 'unchanged' : 'changed'),
      (error: unknown) => (error instanceof AppError && error.code === 'BAD_REQUEST' ? 'bad request' : `unknown error: ${String(error)}`),
    );
    expect(['unchanged', 'bad request']).toContain(outcome);
  });

  it('changes the rules that judging follows', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProtocolProject({ editMode: 'off', allowTies: false });
    await importLines(handle, project, [line('rules', 'Rules change.', ['one', 'two', 'three'])]);
    const item = await leaseOne(project, annotator);
    await refusal(submit(annotator, item, { ranking: [[0, 1], [2]] }), 'BAD_REQUEST', 'ranking');
    const updated = await updateProject(handle.db, project.id, { allowTies: true, editMode: 'required' });
    expect(updated).toMatchObject({ allowTies: true, editMode: 'required', rankingStrength: false });
    await refusal(submit(annotator, item, { ranking: [[0], [1, 2]] }), 'BAD_REQUEST', 'edit');
    await submit(annotator, item, { ranking: [[0], [1, 2]], edit: 'a better answer' });
  });
});
