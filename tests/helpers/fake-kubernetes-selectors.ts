/**
 * List options as the Kubernetes API server reads them (k8s.io/apimachinery labels, fields and
 * the chunked-list protocol), for the fake API server's node and pod lists: what the real server
 * refuses (a requirement it cannot parse, a field label the resource does not index, a continue
 * token it did not hand out) is a 400 here too, in its words.
 */

type TLabels = Record<string, string> | undefined;
export type TMatcher<T> = (item: T) => boolean;

const labelName = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function validKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (!dnsSubdomain.test(prefix) || prefix.length > 253)) return false;
  return labelName.test(name) && name.length <= 63;
}

const validValue = (value: string) => labelValue.test(value) && value.length <= 63;

/** Splits on commas outside parentheses ("a in (x,y),b" is two requirements). */
function requirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of selector) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

/** A label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`), or the server's refusal. */
export function labelSelector(selector: string | null): TMatcher<TLabels> | { error: string } {
  if (!selector || !selector.trim()) return () => true;
  const tests: TMatcher<TLabels>[] = [];
  for (const term of requirements(selector)) {
    const refuse = { error: `unable to parse requirement: found '${term}', expected: key, !key, key=value, key!=value, key in (values) or key notin (values)` };
    let m: RegExpExecArray | null;
    if ((m = /^!\s*(\S+)$/.exec(term))) {
      const key = m[1]!;
      if (!validKey(key)) return refuse;
      tests.push((labels) => !(labels && key in labels));
    } else if ((m = /^(\S+?)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(',').map((v) => v.trim());
      if (!validKey(key) || values.some((v) => !validValue(v)) || (values.length === 1 && values[0] === '')) return refuse;
      tests.push(op === 'in' ? (labels) => labels?.[key] !== undefined && values.includes(labels[key]!) : (labels) => labels?.[key] === undefined || !values.includes(labels[key]!));
    } else if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      if (!validKey(key) || !validValue(value)) return refuse;
      tests.push(op === '!=' ? (labels) => labels?.[key] !== value : (labels) => labels?.[key] === value);
    } else if ((m = /^(\S+)$/.exec(term))) {
      const key = m[1]!;
      if (!validKey(key)) return refuse;
      tests.push((labels) => Boolean(labels && key in labels));
    } else return refuse;
  }
  return (labels) => tests.every((t) => t(labels));
}

/**
 * A field selector (`f=v`, `f==v`, `f!=v`, comma-separated) over the fields a resource indexes:
 * `fields` gives each supported field label's value for an item; any other label is refused.
 */
export function fieldSelector<T>(selector: string | null, fields: Record<string, (item: T) => string>): TMatcher<T> | { error: string } {
  if (!selector || !selector.trim()) return () => true;
  const tests: TMatcher<T>[] = [];
  for (const term of selector.split(',').map((t) => t.trim())) {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) return { error: `invalid selector: '${selector}'; can't understand '${term}'` };
    const [, label, op, value] = m as unknown as [string, string, string, string];
    const read = fields[label];
    if (!read) return { error: `field label not supported: ${label}` };
    tests.push(op === '!=' ? (item) => read(item) !== value : (item) => read(item) === value);
  }
  return (item) => tests.every((t) => t(item));
}

/**
 * One chunk of a list (`limit`, `continue`) as the server answers it: the items after the token's
 * position, and a new token with `remainingItemCount` while more are left.
 */
export function listChunk<T>(items: T[], query: URLSearchParams, resourceVersion: string): { items: T[]; metadata: Record<string, unknown> } | { error: string } {
  let offset = 0;
  const token = query.get('continue');
  if (token) {
    try {
      const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown };
      if (typeof decoded.offset !== 'number' || !Number.isInteger(decoded.offset) || decoded.offset < 0) throw new Error('offset');
      offset = decoded.offset;
    } catch {
      return { error: 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)' };
    }
  }
  const limitText = query.get('limit');
  const limit = limitText ? Number(limitText) : 0;
  if (limitText && (!Number.isInteger(limit) || limit < 0)) return { error: `limit: Invalid value: "${limitText}"` };
  const chunk = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
  const next = offset + chunk.length;
  const more = next < items.length;
  return {
    items: chunk,
    metadata: { resourceVersion, ...(more ? { continue: Buffer.from(JSON.stringify({ offset: next })).toString('base64url'), remainingItemCount: items.length - next } : {}) },
  };
}
