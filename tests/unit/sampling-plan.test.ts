import { describe, expect, it } from 'vitest';
import { planPairs, promptRng } from '@/server/sampling/generation';
import { bestIndex, systemPromptGroups, withSystemPrompt } from '@/server/sampling/rejection-sampling';
import { ZGenerationSpec, ZRejectionSamplingSpec } from '@/server/sampling/schemas';

describe('rejection sampling plan', () => {
  it('gives sample i system prompt i mod S, one group per system prompt', () => {
    expect(systemPromptGroups(5, ['a', 'b'])).toEqual([
      { systemPrompt: 0, samples: [0, 2, 4] },
      { systemPrompt: 1, samples: [1, 3] },
    ]);
    expect(systemPromptGroups(2, ['a', 'b', 'c'])).toEqual([
      { systemPrompt: 0, samples: [0] },
      { systemPrompt: 1, samples: [1] },
    ]);
    expect(systemPromptGroups(3, undefined)).toEqual([{ systemPrompt: null, samples: [0, 1, 2] }]);
  });

  it('puts the steering system prompt first, merged with the prompt’s own system message', () => {
    expect(withSystemPrompt([{ role: 'user', content: 'hi' }], 'Be brief.')).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ]);
    expect(withSystemPrompt([{ role: 'system', content: 'You are a pirate.' }, { role: 'user', content: 'hi' }], 'Be brief.')).toEqual([
      { role: 'system', content: 'Be brief.\n\nYou are a pirate.' },
      { role: 'user', content: 'hi' },
    ]);
  });

  it('keeps the highest score, the earliest on a tie', () => {
    expect(bestIndex([1, 3, 2])).toBe(1);
    expect(bestIndex([-1, 4, 4, 0])).toBe(1);
    expect(bestIndex([-5])).toBe(0);
  });

  it('fills defaults and names bad fields', () => {
    const spec = ZRejectionSamplingSpec.parse({ policyModelId: 1, rewardModelId: 2, prompts: { projectSlug: 'p' } });
    expect(spec).toMatchObject({ k: 10, concurrency: 8, maxRetries: 5, keepSamples: false });
    expect(ZRejectionSamplingSpec.safeParse({ policyModelId: 1, rewardModelId: 2, prompts: {} }).error?.issues[0]?.message).toBe('name the prompts: projectSlug, datasetVersionId or promptIds');
    expect(ZGenerationSpec.safeParse({ policyModelIds: [1, 1], prompts: { promptIds: [1] }, projectSlug: 'p' }).error?.issues[0]?.message).toBe('the models must be different');
    expect(ZGenerationSpec.parse({ policyModelIds: [1, 2], prompts: { promptIds: [1] }, projectSlug: 'p' }).pairing).toBe('random-pair');
  });
});

describe('generation pairing', () => {
  it('draws two different models per prompt, reproducibly from the seed and the prompt', () => {
    const seen = new Map<string, number>();
    for (let prompt = 1; prompt <= 3000; prompt++) {
      const pairs = planPairs(3, 'random-pair', promptRng(42, prompt));
      expect(pairs).toHaveLength(1);
      const [a, b] = pairs[0]!;
      expect(a).not.toBe(b);
      expect(planPairs(3, 'random-pair', promptRng(42, prompt))).toEqual(pairs);
      seen.set(`${a}${b}`, (seen.get(`${a}${b}`) ?? 0) + 1);
    }
    // All six ordered pairs, about equally often (each about 500 of 3000).
    expect(seen.size).toBe(6);
    for (const n of seen.values()) expect(Math.abs(n - 500)).toBeLessThan(100);
  });

  it('makes every pair once with all-pairs, each in a drawn order', () => {
    const pairs = planPairs(4, 'all-pairs', promptRng(1, 1));
    expect(pairs).toHaveLength(6);
    expect(pairs.map((p) => [...p].sort().join()).sort()).toEqual(['0,1', '0,2', '0,3', '1,2', '1,3', '2,3']);
    let flipped = 0;
    for (let prompt = 1; prompt <= 200; prompt++) flipped += planPairs(2, 'all-pairs', promptRng(1, prompt))[0]![0] === 1 ? 1 : 0;
    expect(flipped).toBeGreaterThan(60);
    expect(flipped).toBeLessThan(140);
  });
});
