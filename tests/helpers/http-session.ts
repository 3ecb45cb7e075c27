/**
 * A user of the running web app over real HTTP, as a script or a browser would be: signed in
 * through next-auth's credentials flow (CSRF token, then the callback that sets the session
 * cookie), then calling tRPC procedures at /api/trpc with that cookie (superjson wire format,
 * no batching).
 */
export interface THttpSession {
  mutation<T>(procedure: string, input: unknown): Promise<T>;
}

function cookiesOf(response: Response): string[] {
  return response.headers.getSetCookie().map((c) => c.split(';')[0]!);
}

export async function signInOverHttp(baseUrl: string, email: string, password: string): Promise<THttpSession> {
  const csrf = await fetch(`${baseUrl}/api/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const jar = cookiesOf(csrf);
  const callback = await fetch(`${baseUrl}/api/auth/callback/credentials`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.join('; '), origin: baseUrl },
    body: new URLSearchParams({ csrfToken, email, password, callbackUrl: `${baseUrl}/projects` }),
  });
  jar.push(...cookiesOf(callback));
  if (!jar.some((c) => /session-token=/.test(c))) throw new Error(`signing in ${email} failed: HTTP ${callback.status} ${callback.headers.get('location') ?? ''}`);
  const cookie = jar.join('; ');
  return {
    async mutation<T>(procedure: string, input: unknown): Promise<T> {
      const response = await fetch(`${baseUrl}/api/trpc/${procedure}`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: baseUrl }, body: JSON.stringify({ json: input }) });
      const body = (await response.json()) as { result?: { data?: { json?: T } } };
      if (!response.ok || !body.result?.data) throw new Error(`${procedure}: HTTP ${response.status} ${JSON.stringify(body).slice(0, 500)}`);
      return body.result.data.json as T;
    },
  };
}
