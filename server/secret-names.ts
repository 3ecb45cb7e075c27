/**
 * Which environment variables a user-supplied name may point at. Model endpoints and executors
 * name the variable that holds their key (never the key); the server then reads it and sends it
 * to an admin-chosen address. Pairwise's own secrets and settings must never be readable that
 * way: a model registered with `apiKeyEnv=AUTH_SECRET` would send the session-signing key to its
 * base URL, enough to forge any user's session.
 */
export function isPairwiseSetting(name: string): boolean {
  const upper = name.toUpperCase();
  return upper === 'DATABASE_URL' || upper.startsWith('PAIRWISE_') || upper.startsWith('AUTH_') || upper.startsWith('NEXTAUTH_');
}

/**
 * A model's API key variable: not one of Pairwise's settings, and not the worker's own cloud
 * credentials (AWS_*: the artifact store's), which no model endpoint needs.
 */
export function isForbiddenApiKeyVariable(name: string): boolean {
  return isPairwiseSetting(name) || name.toUpperCase().startsWith('AWS_');
}

export const forbiddenApiKeyMessage = 'names one of Pairwise’s own settings or credentials (DATABASE_URL, AUTH_*, NEXTAUTH_*, PAIRWISE_*, AWS_*), which are never sent to a model endpoint: give the key a variable of its own, e.g. OPENAI_API_KEY';
