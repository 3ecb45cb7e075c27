import { describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import type { TSubmitJudgment } from '@/server/annotation/schemas';
import { resolveEdit, resolveVerdict, type TProjectRules } from '@/server/annotation/verdict';
import { AppError } from '@/server/errors';

const rules = (overrides: Partial<TProjectRules> = {}): TProjectRules => ({ editMode: 'optional', allowTies: false, rankingStrength: false, ...overrides });
const input = (verdict: Partial<TSubmitJudgment>): TSubmitJudgment => ({ assignmentId: 1, clientSubmissionId: 'submission-1', timeSpentMs: 1000, ...verdict });

/** The AppError a call throws: a BAD_REQUEST naming `field`. */
function refusal(call: () => unknown, field: string): AppError {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(AppError);
  expect(thrown).toMatchObject({ code: 'BAD_REQUEST', field });
  return thrown as AppError;
}

describe('resolveVerdict for a pair', () => {
  it.each([0, 1])('turns chosen position %i into [[chosen], [rejected]] with its strength', (chosen) => {
    expect(resolveVerdict(input({ chosenPosition: chosen, strength: 'slightly_better' }), 2, rules())).toEqual({
      groups: [[chosen], [1 - chosen]],
      strength: 'slightly_better',
      rankStrengths: null,
      chosenPosition: chosen,
    });
  });

  it('refuses a ranking', () => {
    refusal(() => resolveVerdict(input({ ranking: [[0], [1]] }), 2, rules()), 'ranking');
    refusal(() => resolveVerdict(input({ ranking: [[0], [1]], chosenPosition: 0, strength: 'better' }), 2, rules()), 'ranking');
  });

  it('needs a chosen position of 0 or 1', () => {
    refusal(() => resolveVerdict(input({ strength: 'better' }), 2, rules()), 'chosenPosition');
    refusal(() => resolveVerdict(input({ chosenPosition: 2, strength: 'better' }), 2, rules()), 'chosenPosition');
  });

  it('needs a strength', () => {
    refusal(() => resolveVerdict(input({ chosenPosition: 0 }), 2, rules()), 'strength');
  });
});

describe('resolveVerdict for a ranking', () => {
  it('keeps the groups as given, best first', () => {
    expect(resolveVerdict(input({ ranking: [[2], [0], [1]] }), 3, rules())).toEqual({ groups: [[2], [0], [1]], strength: null, rankStrengths: null, chosenPosition: null });
  });

  it('refuses a chosen position instead of a ranking', () => {
    refusal(() => resolveVerdict(input({ chosenPosition: 0, strength: 'better' }), 3, rules()), 'ranking');
  });

  it.each([
    ['a missing response', [[0], [1]]],
    ['a repeated response', [[0], [1], [0]]],
    ['a repeated response in place of a missing one', [[0], [1, 1]]],
    ['a position beyond the comparison', [[0], [1], [3]]],
    ['an extra position', [[0], [1], [2], [3]]],
  ])('refuses %s', (_name, ranking) => {
    refusal(() => resolveVerdict(input({ ranking }), 3, rules({ allowTies: true })), 'ranking');
  });

  it('accepts ties only when the project allows them', () => {
    const error = refusal(() => resolveVerdict(input({ ranking: [[0, 1], [2]] }), 3, rules()), 'ranking');
    expect(error.message).toMatch(/ties/);
    expect(resolveVerdict(input({ ranking: [[0, 1], [2]] }), 3, rules({ allowTies: true })).groups).toEqual([[0, 1], [2]]);
  });

  it('refuses a single rank, even with ties allowed', () => {
    refusal(() => resolveVerdict(input({ ranking: [[0, 1, 2]] }), 3, rules({ allowTies: true })), 'ranking');
  });

  it('needs one strength per boundary when the project asks for them', () => {
    const strict = rules({ rankingStrength: true, allowTies: true });
    refusal(() => resolveVerdict(input({ ranking: [[0], [1], [2]] }), 3, strict), 'rankStrengths');
    refusal(() => resolveVerdict(input({ ranking: [[0], [1], [2]], rankStrengths: ['better'] }), 3, strict), 'rankStrengths');
    refusal(() => resolveVerdict(input({ ranking: [[0, 1], [2]], rankStrengths: ['better', 'better'] }), 3, strict), 'rankStrengths');
    expect(resolveVerdict(input({ ranking: [[0], [1], [2]], rankStrengths: ['better', 'marginally_better'] }), 3, strict).rankStrengths).toEqual([
      'better',
      'marginally_better',
    ]);
    expect(resolveVerdict(input({ ranking: [[0, 1], [2]], rankStrengths: ['slightly_better'] }), 3, strict).rankStrengths).toEqual(['slightly_better']);
  });

  it('records no strengths when the project does not ask for them', () => {
    expect(resolveVerdict(input({ ranking: [[0], [1], [2]], rankStrengths: ['better', 'better'] }), 3, rules()).rankStrengths).toBeNull();
  });
});

describe('resolveEdit', () => {
  const single: TMessage[] = [{ role: 'assistant', content: 'Seven is prime.' }];
  const withTools: TMessage[] = [
    { role: 'assistant', content: '', tool_calls: [{ id: 'call-1', type: 'function', function: { name: 'is_prime', arguments: '{"n":7}' } }] },
    { role: 'tool', content: 'true', tool_call_id: 'call-1', name: 'is_prime' },
    { role: 'assistant', content: 'Seven is prime.' },
  ];

  it('replaces the content of a single assistant message', () => {
    expect(resolveEdit('Seven is a prime number.', single, rules())).toEqual([{ role: 'assistant', content: 'Seven is a prime number.' }]);
  });

  it('replaces only the final assistant message, keeping tool calls and results', () => {
    expect(resolveEdit('7 is prime (checked).', withTools, rules({ editMode: 'required' }))).toEqual([withTools[0], withTools[1], { role: 'assistant', content: '7 is prime (checked).' }]);
    // The input is left as it was.
    expect(withTools[2]).toEqual({ role: 'assistant', content: 'Seven is prime.' });
  });

  it('stores nothing when nothing was given in optional mode', () => {
    expect(resolveEdit(undefined, single, rules())).toBeNull();
    expect(resolveEdit('   \n', single, rules())).toBeNull();
  });

  it('stores nothing for an unchanged edit in optional mode', () => {
    expect(resolveEdit('Seven is prime.', single, rules())).toBeNull();
    expect(resolveEdit('Seven is prime.', withTools, rules())).toBeNull();
  });

  it('requires a changed edit in required mode', () => {
    refusal(() => resolveEdit(undefined, single, rules({ editMode: 'required' })), 'edit');
    refusal(() => resolveEdit('  ', single, rules({ editMode: 'required' })), 'edit');
    refusal(() => resolveEdit('Seven is prime.', single, rules({ editMode: 'required' })), 'edit');
  });

  it('refuses an edit when the project has no edit step', () => {
    refusal(() => resolveEdit('Seven is a prime number.', single, rules({ editMode: 'off' })), 'edit');
    expect(resolveEdit(undefined, single, rules({ editMode: 'off' }))).toBeNull();
  });

  it('refuses an edit without a single best response', () => {
    refusal(() => resolveEdit('An edit.', null, rules()), 'edit');
  });

  it('refuses an edit of a response without an assistant message', () => {
    refusal(() => resolveEdit('An edit.', [{ role: 'tool', content: 'output' }], rules()), 'edit');
  });
});

describe('resolveEdit with a tie at the top and whitespace', () => {
  const rulesOf = (editMode: 'off' | 'optional' | 'required') => ({ editMode, allowTies: true, rankingStrength: false });
  const best = [{ role: 'assistant' as const, content: 'Seven is prime.' }];

  it('does not ask a required edit when ranks tie at the top', () => {
    expect(resolveEdit(undefined, null, rulesOf('required'))).toBeNull();
  });

  it('treats an edit that only adds whitespace at the ends as no change', () => {
    expect(resolveEdit('Seven is prime.\n\n', best, rulesOf('optional'))).toBeNull();
    expect(() => resolveEdit('  Seven is prime.  ', best, rulesOf('required'))).toThrow(/must change/);
  });
});
