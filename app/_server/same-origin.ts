import 'server-only';
import { AppError } from '@/server/errors';

/** The host a request was addressed to: the proxy's X-Forwarded-Host (first value) when there is one, else Host. */
function requestHost(request: Request): string | null {
  const forwarded = request.headers.get('x-forwarded-host')?.split(',')[0]?.trim();
  return forwarded || request.headers.get('host') || new URL(request.url).host || null;
}

/** `host` as a URL would write it for `protocol` (lower case, default port dropped), or null. */
function normalHost(protocol: string, host: string): string | null {
  try {
    return new URL(`${protocol}//${host}`).host;
  } catch {
    return null;
  }
}

/**
 * Refuses a cross-origin request to a cookie-authenticated route that changes state: SameSite=Lax
 * cookies still ride on a top-level form POST from another site, and a text/plain body needs
 * no preflight. Browsers send Origin with every such request, so a present Origin whose host is
 * not the one the request was sent to (behind a proxy, X-Forwarded-Host: the app trusts its
 * proxy, and a page cannot set that header without a preflight) is a 403. No Origin (curl, a
 * script) passes: those carry no ambient cookies from a victim's browser.
 */
export function refuseCrossOrigin(request: Request): void {
  const origin = request.headers.get('origin');
  if (origin === null) return;
  let originUrl: URL | null = null;
  try {
    originUrl = origin === 'null' ? null : new URL(origin);
  } catch {
    originUrl = null;
  }
  const host = requestHost(request);
  const expected = originUrl && host ? normalHost(originUrl.protocol, host) : null;
  if (!originUrl || !expected || originUrl.host !== expected) throw new AppError('FORBIDDEN', 'cross-origin request refused');
}
