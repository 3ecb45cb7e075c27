import { pgEnum } from 'drizzle-orm/pg-core';

/** Llama 3's four preference levels, strongest first. */
export const preferenceStrength = pgEnum('preference_strength', [
  'significantly_better',
  'better',
  'slightly_better',
  'marginally_better',
]);

