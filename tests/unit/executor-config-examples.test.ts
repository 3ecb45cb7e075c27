import { describe, expect, it } from 'vitest';
import { configExamples } from '@/app/admin/executors/config-examples';
import { parseExecutorConfig } from '@/server/executors/executors';
import { executorKinds } from '@/server/executors/schemas';

describe('the executors page’s config examples', () => {
  it('has one for every kind, and each is a valid config of its kind', () => {
    for (const kind of executorKinds) {
      expect(configExamples[kind], kind).toBeDefined();
      expect(() => parseExecutorConfig(kind, configExamples[kind]), kind).not.toThrow();
    }
  });
});
