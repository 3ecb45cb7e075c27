import nextCoreWebVitals from 'eslint-config-next/core-web-vitals';
import nextTypescript from 'eslint-config-next/typescript';

const config = [
  ...nextCoreWebVitals,
  ...nextTypescript,
  {
    ignores: ['node_modules/**', '.next/**', '.data/**', '.venv/**', 'migrations/**', 'next-env.d.ts'],
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // server/ and db/ run in plain Node (workers, CLI, tests): they must not depend on Next.js.
    files: ['server/**/*.ts', 'db/**/*.ts', 'workers/**/*.ts'],
    ignores: ['server/auth/next-auth.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['next', 'next/*', 'next-auth', 'next-auth/*', '@/app/*'], message: 'server/, db/ and workers/ run outside Next.js.' }] }],
    },
  },
];

export default config;
