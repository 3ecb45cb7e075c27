/**
 * The load bench's HTTP client: one keep-alive agent with a socket per simulated annotator,
 * next-auth's credentials sign-in, and tRPC calls in the wire format of the annotate page's
 * client (httpBatchLink with superjson: POST /api/trpc/<procedure>?batch=1, body {"0": <input>}).
 */
import http from 'node:http';
import superjson from 'superjson';

export interface THttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class LoadClient {
  private readonly agent: http.Agent;
  private readonly base: URL;

  constructor(baseUrl: string, sockets: number) {
    this.base = new URL(baseUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  request(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<THttpReply> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          headers: { origin: this.base.origin, ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** next-auth credentials: the CSRF token (and its cookie), then the callback that sets the session cookie. */
  async signIn(email: string, password: string): Promise<string> {
    const csrf = await this.request('GET', '/api/auth/csrf', {});
    if (csrf.status !== 200) throw new Error(`csrf for ${email}: HTTP ${csrf.status}`);
    const { csrfToken } = JSON.parse(csrf.body) as { csrfToken: string };
    const jar = cookiesOf(csrf);
    const callback = await this.request(
      'POST',
      '/api/auth/callback/credentials',
      { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.join('; ') },
      new URLSearchParams({ csrfToken, email, password, callbackUrl: `${this.base.origin}/projects` }).toString(),
    );
    jar.push(...cookiesOf(callback));
    if (!jar.some((c) => /session-token=/.test(c))) throw new Error(`signing in ${email} failed: HTTP ${callback.status} ${callback.headers.location ?? ''} ${callback.body.slice(0, 200)}`);
    return jar.join('; ');
  }

  /** One tRPC mutation as its own batch of one, as the page's link sends a lone call. */
  async mutation<T>(cookie: string, procedure: string, input: unknown): Promise<{ ok: true; data: T } | { ok: false; status: number; error: string }> {
    const reply = await this.request('POST', `/api/trpc/${procedure}?batch=1`, { 'content-type': 'application/json', cookie }, JSON.stringify({ 0: superjson.serialize(input) }));
    let parsed: unknown;
    try {
      parsed = JSON.parse(reply.body);
    } catch {
      return { ok: false, status: reply.status, error: reply.body.slice(0, 200) };
    }
    const first = (Array.isArray(parsed) ? parsed[0] : parsed) as { result?: { data?: unknown }; error?: { json?: { message?: string } } } | undefined;
    if (reply.status >= 200 && reply.status < 300 && first?.result?.data !== undefined) {
      return { ok: true, data: superjson.deserialize(first.result.data as Parameters<typeof superjson.deserialize>[0]) as T };
    }
    return { ok: false, status: reply.status, error: first?.error?.json?.message ?? reply.body.slice(0, 200) };
  }

  close(): void {
    this.agent.destroy();
  }
}

function cookiesOf(reply: THttpReply): string[] {
  const set = reply.headers['set-cookie'] ?? [];
  return set.map((c) => c.split(';')[0]!);
}
