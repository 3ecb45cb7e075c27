/** A local path to go back to after sign-in; anything else (other hosts, "//x") becomes "/". */
export function safeLocalPath(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  return value;
}
