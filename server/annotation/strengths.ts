/** Llama 3's four levels, strongest first: keys 1-4 in the UI, in this order. Free of zod so the browser bundle stays small. */
export const strengths = ['significantly_better', 'better', 'slightly_better', 'marginally_better'] as const;
export type TStrength = (typeof strengths)[number];

export const strengthLabels: Record<TStrength, string> = {
  significantly_better: 'Significantly better',
  better: 'Better',
  slightly_better: 'Slightly better',
  marginally_better: 'Marginally better',
};
