import NextAuth, { CredentialsSignin, type NextAuthConfig } from 'next-auth';
import Credentials from 'next-auth/providers/credentials';
import { getDb } from '@/db/client';
import { env } from '../env';
import { clientAddress } from './client-address';
import { signInWithPassword, type TSignInRefusal } from './sign-in';

declare module 'next-auth' {
  interface Session {
    /** When this session signed in (ms, the database's clock): sessions older than a revocation are refused. */
    signedInAt?: number;
  }
  interface User {
    signedInAt?: number;
  }
}

/**
 * A refused sign-in whose `code` reaches the sign-in page (`?code=`): `throttled-<seconds>`,
 * `busy-<seconds>` or `disabled`. A wrong password keeps next-auth's plain `credentials`.
 */
class SignInRefused extends CredentialsSignin {
  constructor(reason: Exclude<TSignInRefusal, 'invalid'>, retryAfterS?: number) {
    super(reason);
    this.code = retryAfterS === undefined ? reason : `${reason}-${retryAfterS}`;
  }
}

/**
 * next-auth (v5) with email + password and JWT sessions. The token carries the user id and the
 * sign-in time: every request re-reads the user, so a changed role, a disabled or deleted
 * account, or signing out everywhere takes effect at once. (next-auth's own `iat` cannot serve:
 * it is renewed whenever the cookie is refreshed.)
 * This is the only file under server/ that touches next-auth; app/ uses what it exports.
 */
const config: NextAuthConfig = {
  providers: [
    Credentials({
      credentials: { email: { label: 'Email', type: 'email' }, password: { label: 'Password', type: 'password' } },
      async authorize(credentials, request) {
        const email = typeof credentials?.email === 'string' ? credentials.email : '';
        const password = typeof credentials?.password === 'string' ? credentials.password : '';
        const address = clientAddress(request.headers, env().PAIRWISE_TRUST_PROXY);
        const result = await signInWithPassword(getDb().db, { email, password, address });
        if (result.ok) return { id: String(result.user.id), email: result.user.email, signedInAt: result.signedInAt };
        if (result.reason === 'invalid') return null;
        throw new SignInRefused(result.reason, result.retryAfterS);
      },
    }),
  ],
  session: { strategy: 'jwt', maxAge: 30 * 24 * 3600 },
  pages: { signIn: '/signin' },
  // Pairwise runs behind whatever host name its operators give it, not a fixed AUTH_URL.
  trustHost: true,
  logger: {
    // Refused sign-ins are logged as one line by signInWithPassword; next-auth would add a stack trace each.
    error(error) {
      if (error instanceof CredentialsSignin) return;
      console.error(`[auth][error] ${error.name}: ${error.message}`, error.cause ?? error.stack ?? '');
    },
  },
  callbacks: {
    jwt({ token, user }) {
      if (user?.id) {
        token.uid = user.id;
        token.signedInAt = user.signedInAt;
      }
      return token;
    },
    session({ session, token }) {
      if (typeof token.uid === 'string') session.user.id = token.uid;
      if (typeof token.signedInAt === 'number') session.signedInAt = token.signedInAt;
      return session;
    },
  },
};

export const { handlers, auth, signIn, signOut } = NextAuth(config);
