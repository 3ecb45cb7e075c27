import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { leaseComparisons } from '@/server/annotation/lease';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import { streamPreferencePairs, type TPreferencePair } from '@/server/exports/preference-pairs';
import { countSftLines, streamSftLines } from '@/server/exports/sft';
import { sql } from 'drizzle-orm';
import { submitReview } from '@/server/quality/reviews';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { importLines, makeProject, makeUser } from '../helpers/factories';

const db = setupTestDatabase();

async function pairs(projectId: number, excludeAnnotators: number[] = []): Promise<TPreferencePair[]> {
  const out: TPreferencePair[] = [];
  for await (const batch of streamPreferencePairs(db.current.handle.sql, projectId, { excludeAnnotators })) out.push(...batch.map(({ promptHash: _, ...pair }) => pair));
  return out;
}

describe('exports and reviews', () => {
  it('leave out rejected judgments, apply corrections, and can leave out chosen annotators', async () => {
    const { handle } = db.current;
    const [annotator, other, reviewer] = [await makeUser(handle), await makeUser(handle), await makeUser(handle, 'reviewer')];
    const project = await makeProject(handle, { judgmentsRequired: 1 });
    await importLines(
      handle,
      project,
      ['keep', 'reject', 'correct'].map((id) => JSON.stringify({ id, prompt: id, responses: [{ content: `${id} first`, model: 'm1' }, { content: `${id} second`, model: 'm2' }] })),
    );
    const judgmentIds: Record<string, number> = {};
    for (let i = 0; i < 3; i++) {
      const [item] = await leaseComparisons(handle.db, { projectId: project.id, annotatorId: annotator.id, leaseSeconds: 900, want: 1 });
      const position = item!.responses.findIndex((r) => r.messages[0]!.content.endsWith('first'));
      const { judgmentId } = await submitJudgment(handle.db, { annotatorId: annotator.id, assignmentId: item!.assignmentId, clientSubmissionId: crypto.randomUUID(), chosenPosition: position, strength: 'better', timeSpentMs: 1 });
      judgmentIds[item!.prompt[0]!.content] = judgmentId;
    }
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: judgmentIds.reject!, decision: 'reject' });
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: judgmentIds.correct!, decision: 'correct', correctedChoice: 1, correctedStrength: 'slightly_better' });

    const lines = await pairs(project.id);
    expect(lines.map((l) => l.prompt[0]!.content).sort()).toEqual(['correct', 'keep']);
    const corrected = lines.find((l) => l.prompt[0]!.content === 'correct')!;
    expect(corrected.chosen[0]!.content).toBe('correct second');
    expect(corrected.rejected[0]!.content).toBe('correct first');
    expect(corrected.metadata).toMatchObject({ strength: 'slightly_better', review: 'correct', chosen_model: 'm2', rejected_model: 'm1' });
    expect(lines.find((l) => l.prompt[0]!.content === 'keep')!.metadata.review).toBeNull();

    expect(await pairs(project.id, [annotator.id])).toEqual([]);
    expect(await pairs(project.id, [other.id])).toHaveLength(2);
  });
});

describe('export formats from the command line', () => {
  it('writes OpenAI preference and HH-RLHF lines for the same pairs', async () => {
    const { handle, url } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, [JSON.stringify({ id: 'f', prompt: 'Hi?', responses: [{ content: 'Hello!', model: 'm1' }, { content: 'Go away.', model: 'm2' }] })]);
    const [item] = await leaseComparisons(handle.db, { projectId: project.id, annotatorId: annotator.id, leaseSeconds: 900, want: 1 });
    const position = item!.responses.findIndex((r) => r.messages[0]!.content === 'Hello!');
    await submitJudgment(handle.db, { annotatorId: annotator.id, assignmentId: item!.assignmentId, clientSubmissionId: crypto.randomUUID(), chosenPosition: position, strength: 'better', timeSpentMs: 1 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-formats-'));
    const read = async (format: string) => {
      const out = path.join(dir, `${format}.jsonl`);
      const result = await runCli(['export', '--project', project.slug, '--format', format, '--out', out], { env: { ...process.env, DATABASE_URL: url } });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(fs.readFileSync(out, 'utf8').trim());
    };
    expect(await read('openai')).toEqual({
      input: { messages: [{ role: 'user', content: 'Hi?' }] },
      preferred_output: [{ role: 'assistant', content: 'Hello!' }],
      non_preferred_output: [{ role: 'assistant', content: 'Go away.' }],
    });
    expect(await read('hh-rlhf')).toEqual({ chosen: '\n\nHuman: Hi?\n\nAssistant: Hello!', rejected: '\n\nHuman: Hi?\n\nAssistant: Go away.' });
    expect(await read('sft')).toEqual({ messages: [{ role: 'user', content: 'Hi?' }, { role: 'assistant', content: 'Hello!' }] });
    expect(await read('trl-implicit')).toEqual({
      chosen: [{ role: 'user', content: 'Hi?' }, { role: 'assistant', content: 'Hello!' }],
      rejected: [{ role: 'user', content: 'Hi?' }, { role: 'assistant', content: 'Go away.' }],
    });
  });
});

describe('SFT lines', () => {
  it('take each judgment\'s best response: the edit, a reviewer\'s correction, never a rejected judgment or a tie at the top', async () => {
    const { handle } = db.current;
    const [annotator, reviewer] = [await makeUser(handle), await makeUser(handle, 'reviewer')];
    const project = await makeProject(handle);
    await handle.db.execute(sql`update projects set allow_ties = true where id = ${project.id}`);
    const line = (id: string, n = 2) => JSON.stringify({ id, prompt: id, responses: Array.from({ length: n }, (_, i) => ({ content: `${id} ${i}`, model: `m${i}` })) });
    await importLines(handle, project, [line('edit'), line('corrected'), line('rejected'), line('tie', 3)]);
    const ids: Record<string, number> = {};
    for (let k = 0; k < 4; k++) {
      const [item] = await leaseComparisons(handle.db, { projectId: project.id, annotatorId: annotator.id, leaseSeconds: 900, want: 1 });
      const name = item!.prompt[0]!.content;
      const first = item!.responses.findIndex((r) => r.messages[0]!.content.endsWith(' 0'));
      const verdict =
        name === 'tie'
          ? { ranking: [[0, 1], [2]] }
          : { chosenPosition: first, strength: 'better' as const, edit: name === 'edit' ? 'edit, rewritten' : undefined };
      ids[name] = (await submitJudgment(handle.db, { annotatorId: annotator.id, assignmentId: item!.assignmentId, clientSubmissionId: crypto.randomUUID(), timeSpentMs: 1, ...verdict })).judgmentId;
    }
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: ids.rejected!, decision: 'reject' });
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: ids.corrected!, decision: 'correct', correctedChoice: 1, correctedStrength: 'better' });
    let text = '';
    for await (const chunk of streamSftLines(handle.sql, project.id)) text += chunk;
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { messages: { content: string }[] });
    expect(lines.map((l) => l.messages.map((m) => m.content))).toEqual([
      ['edit', 'edit, rewritten'],
      ['corrected', 'corrected 1'],
    ]);
    expect(await countSftLines(handle.sql, project.id)).toBe(2);
  });
});

