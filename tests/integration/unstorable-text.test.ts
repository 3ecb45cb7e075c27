import { describe, expect, it } from 'vitest';
import { unstorableText } from '@/server/validation';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, makeUser } from '../helpers/factories';

const db = setupTestDatabase();

describe('text PostgreSQL cannot store', () => {
  it('is found anywhere in an input, with its path', () => {
    expect(unstorableText({ a: 'fine', b: [{ c: 'x\u0000y' }] })).toEqual({ field: 'b[0].c', reason: expect.stringMatching(/NUL/) });
    expect(unstorableText({ edit: 'ok \uD83D\uDE00 ok' })).toBeNull();
    expect(unstorableText({ edit: 'half \uD83D of a pair' })).toEqual({ field: 'edit', reason: expect.stringMatching(/surrogate/) });
    expect(unstorableText({ edit: 'lone \uDE00 low half' })).toEqual({ field: 'edit', reason: expect.stringMatching(/surrogate/) });
    expect(unstorableText(['a', 1, null, { 'k\u0000': 1 }])).toEqual({ field: '[3]', reason: expect.stringMatching(/key/) });
  });

  it('is a 400 naming the field for every procedure, signed in or not, before anything reaches the database', async () => {
    const { handle, url } = db.current;
    const annotator = callerFor(handle, url, await makeUser(handle));
    await expect(annotator.annotation.lease({ project: 'p\u0000', want: 1 })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'project: contains a NUL character, which text cannot hold' });
    await expect(annotator.annotation.submit({ handle: 'AAAAAAAAAAAAAAAAAAAAAA', clientSubmissionId: 'abcdefgh-1', chosenPosition: 0, strength: 'better', rationale: 'because \uD800', timeSpentMs: 5 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/^rationale: .*surrogate/),
    });
    const admin = callerFor(handle, url, await makeUser(handle, 'admin'));
    await expect(admin.models.register({ name: 'm\u0000', kind: 'policy', serving: 'none' })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^name: /) });
    const anonymous = callerFor(handle, url, null);
    await expect(anonymous.annotation.lease({ project: '\u0000', want: 1 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
