/**
 * The client's address for per-address sign-in limits, from X-Forwarded-For.
 *
 * Next.js (`next start`) fills X-Forwarded-For with the socket's address only when the request
 * has none, and route handlers see no socket. So the header is all there is: behind
 * `trustedProxies` proxies that each append the address they saw, the entry that many from the
 * right is the client's, written by our own outermost proxy. With none trusted (the default),
 * the last entry is used: the socket's address when the client sent no header, else whatever
 * the client wrote, which it can vary, so that mode limits only clients that play along.
 */
export function clientAddress(headers: Headers, trustedProxies: number): string | null {
  const entries = (headers.get('x-forwarded-for') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) return null;
  const index = trustedProxies > 0 ? Math.max(0, entries.length - trustedProxies) : entries.length - 1;
  // Bounded: the value becomes a database key and a log field.
  return normalizeAddress(entries[index]!).slice(0, 64);
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are one client. */
function normalizeAddress(address: string): string {
  return address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1').toLowerCase();
}
