import type { TDbHandle } from '@/db/client';
import { jobs } from '@/server/jobs/queue';
import { loadTokenizer } from '@/server/ml/tokenizer';
import { fillTokenCounts } from '@/server/quality/token-counts';

/** Fills the token counts of a project's prompts and responses (PAIRWISE_TOKENIZER, or the approximate counter). */
export const countTokensJob = {
  ...jobs.countTokens,
  async handle(deps: { db: TDbHandle }, payload: { projectId: number }) {
    const counter = await loadTokenizer();
    const counted = await fillTokenCounts(deps.db.db, { projectId: payload.projectId, counter });
    return { tokenizer: counter.kind, ...counted };
  },
};
