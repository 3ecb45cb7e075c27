/**
 * Plain constants of the schema, free of drizzle imports so that browser code can use them
 * without pulling the ORM into its bundle.
 */
export const messageRoles = ['system', 'user', 'assistant', 'tool', 'ipython'] as const;
export type TMessageRole = (typeof messageRoles)[number];

/** What an annotator may flag on a judgment; carried into exports as metadata. */
export const judgmentFlags = ['unsafe', 'personal_data', 'both_bad', 'prompt_unclear'] as const;
export type TJudgmentFlag = (typeof judgmentFlags)[number];
