import type { TMessage } from '@/db/schema';
import type { TSelectedPair } from '../exports/preference-pairs';
import type { TSplit } from './split';

export interface TVersionCounts {
  pairs: number;
  train: number;
  test: number;
  prompts: number;
  trainPrompts: number;
  testPrompts: number;
  judgments: number;
}

export interface TVersionSummary {
  byStrength: Record<string, number>;
  byRelation: Record<string, number>;
  byProject: Record<string, number>;
  /** Pairs won per model (the chosen response's model; edits and human answers count as their origin). */
  winsByModel: Record<string, number>;
  /** Mean characters and messages, as in Llama 3's preference data table. */
  mean: { promptChars: number; chosenChars: number; rejectedChars: number; promptMessages: number };
}

export interface TVersionStatistics {
  add(pair: TSelectedPair, split: TSplit, project: string): void;
  counts(): Omit<TVersionCounts, 'judgments'>;
  summary(): TVersionSummary;
}

const chars = (messages: TMessage[]) => messages.reduce((n, m) => n + m.content.length, 0);
const bump = (map: Record<string, number>, key: string) => {
  map[key] = (map[key] ?? 0) + 1;
};

/** Running statistics of a version's kept pairs: memory grows with distinct prompts only. */
export function newStatistics(): TVersionStatistics {
  const prompts: Record<TSplit, Set<string>> = { train: new Set(), test: new Set() };
  const perSplit: Record<TSplit, number> = { train: 0, test: 0 };
  const summary: TVersionSummary = { byStrength: {}, byRelation: {}, byProject: {}, winsByModel: {}, mean: { promptChars: 0, chosenChars: 0, rejectedChars: 0, promptMessages: 0 } };
  const sums = { promptChars: 0, chosenChars: 0, rejectedChars: 0, promptMessages: 0 };
  return {
    add(pair, split, project) {
      perSplit[split] += 1;
      prompts[split].add(pair.promptHash);
      bump(summary.byStrength, pair.metadata.strength ?? 'unrated');
      // Rankings' relations name ranks ('rank 1>rank 3'); group them so the table stays short.
      bump(summary.byRelation, pair.metadata.relation.startsWith('rank') ? 'ranking' : pair.metadata.relation);
      bump(summary.byProject, project);
      bump(summary.winsByModel, pair.metadata.chosen_model ?? `(${pair.metadata.chosen_origin})`);
      sums.promptChars += chars(pair.prompt);
      sums.chosenChars += chars(pair.chosen);
      sums.rejectedChars += chars(pair.rejected);
      sums.promptMessages += pair.prompt.length;
    },
    counts() {
      return {
        pairs: perSplit.train + perSplit.test,
        train: perSplit.train,
        test: perSplit.test,
        prompts: prompts.train.size + prompts.test.size,
        trainPrompts: prompts.train.size,
        testPrompts: prompts.test.size,
      };
    },
    summary() {
      const n = perSplit.train + perSplit.test || 1;
      const round = (x: number) => Math.round((x / n) * 10) / 10;
      return {
        ...summary,
        mean: { promptChars: round(sums.promptChars), chosenChars: round(sums.chosenChars), rejectedChars: round(sums.rejectedChars), promptMessages: round(sums.promptMessages) },
      };
    },
  };
}
