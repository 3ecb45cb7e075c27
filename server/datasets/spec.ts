import { z } from 'zod';
import { strengths, type TStrength } from '../annotation/strengths';
import { expansions } from '../exports/preference-pairs';

/**
 * The filter spec of a dataset version. Defaults follow Llama 3 (section 4.2.1): for reward
 * modelling and DPO keep only pairs whose chosen response is "significantly better" or
 * "better", and discard similar responses.
 *
 * The spec is normalised (defaults filled in, lists sorted and deduplicated) before it is
 * stored and hashed, so two requests that mean the same thing give the same spec and hash.
 */
export const ZDatasetSpec = z
  .object({
    /** Project slugs the pairs come from (at least one). */
    projects: z.array(z.string().min(1)).min(1, 'name at least one project'),
    /** Only comparisons whose `metadata.round` is one of these labels. */
    rounds: z.array(z.string().min(1)).optional(),
    /** Only judgments made at or after / before these instants (ISO 8601). */
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    /** Only pairs whose both responses come from these models (edits and human answers pass). */
    models: z.array(z.string().min(1)).optional(),
    /** The weakest strength kept (default 'better': significantly better and better, as in Llama 3). */
    minStrength: z.enum(strengths).nullable().default('better'),
    /** Drop similar responses: marginally better, or also slightly better. */
    dropSimilar: z.enum(['none', 'marginally_better', 'slightly_better']).default('marginally_better'),
    /** Keep pairs that carry no strength (edits over the original, rankings without strengths, imported labels). */
    keepUnrated: z.boolean().default(true),
    dropFlagged: z.boolean().default(true),
    /** Judgments a reviewer rejected are always left out; this drops gold items' judgments too. */
    dropGold: z.boolean().default(true),
    /** Leave out annotators whose gold accuracy in the project is under this share (those without gold answers stay). */
    minGoldAccuracy: z.number().min(0).max(1).nullable().default(null),
    /** 'all': every judgment gives pairs; 'consensus': one chosen>rejected pair per pair comparison. */
    aggregation: z.enum(['all', 'consensus']).default('all'),
    /** How rankings (and edit triples) become pairs. */
    expansion: z.enum(expansions).default('all'),
    /** Semantic prompt dedup: drop prompts whose cosine similarity to a kept prompt reaches this threshold. */
    dedupThreshold: z.number().gt(0).lt(1).nullable().default(null),
    /** Share of prompts held out for the test split (by prompt: no prompt is in both). */
    testFraction: z.number().min(0).max(0.5).default(0.05),
    /** Seed of the split: the same seed splits the same prompts the same way. */
    splitSeed: z.string().min(1).max(100).default('pairwise'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.from && spec.to && Date.parse(spec.from) >= Date.parse(spec.to)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after `from`' });
    }
  });

export type TDatasetSpecInput = z.input<typeof ZDatasetSpec>;
export type TDatasetSpec = z.output<typeof ZDatasetSpec>;

const sortedUnique = (values: string[] | undefined) => (values ? [...new Set(values)].sort() : undefined);

/** Fills in defaults and puts lists in a canonical order. Throws a ZodError on bad input. */
export function normalizeSpec(input: TDatasetSpecInput): TDatasetSpec {
  const spec = ZDatasetSpec.parse(input);
  return {
    ...spec,
    projects: sortedUnique(spec.projects)!,
    rounds: sortedUnique(spec.rounds),
    models: sortedUnique(spec.models),
    from: spec.from ? new Date(spec.from).toISOString() : undefined,
    to: spec.to ? new Date(spec.to).toISOString() : undefined,
  };
}

/** The strengths a spec keeps (strongest first), from minStrength and dropSimilar together. */
export function keptStrengths(spec: Pick<TDatasetSpec, 'minStrength' | 'dropSimilar'>): TStrength[] {
  const upTo = spec.minStrength ? strengths.indexOf(spec.minStrength) : strengths.length - 1;
  const dropped = new Set<TStrength>(
    spec.dropSimilar === 'slightly_better' ? ['slightly_better', 'marginally_better'] : spec.dropSimilar === 'marginally_better' ? ['marginally_better'] : [],
  );
  return strengths.slice(0, upTo + 1).filter((s) => !dropped.has(s));
}
