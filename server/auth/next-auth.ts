import NextAuth, { type NextAuthConfig } from 'next-auth';
import Credentials from 'next-auth/providers/credentials';
import { getDb } from '@/db/client';
import { verifyCredentials } from '../users/users';

/**
 * next-auth (v5) with email + password and JWT sessions. The token carries only the user id:
 * every request re-reads the user, so a changed role or a deleted account takes effect at once.
 * This is the only file under server/ that touches next-auth; app/ uses what it exports.
 */
const config: NextAuthConfig = {
  providers: [
    Credentials({
      credentials: { email: { label: 'Email', type: 'email' }, password: { label: 'Password', type: 'password' } },
      async authorize(credentials) {
        const email = typeof credentials?.email === 'string' ? credentials.email : '';
        const password = typeof credentials?.password === 'string' ? credentials.password : '';
        const user = await verifyCredentials(getDb().db, email, password);
        return user ? { id: String(user.id), email: user.email } : null;
      },
    }),
  ],
  session: { strategy: 'jwt', maxAge: 30 * 24 * 3600 },
  pages: { signIn: '/signin' },
  // Pairwise runs behind whatever host name its operators give it, not a fixed AUTH_URL.
  trustHost: true,
  callbacks: {
    jwt({ token, user }) {
      if (user?.id) token.uid = user.id;
      return token;
    },
    session({ session, token }) {
      if (typeof token.uid === 'string') session.user.id = token.uid;
      return session;
    },
  },
};

export const { handlers, auth, signIn, signOut } = NextAuth(config);
