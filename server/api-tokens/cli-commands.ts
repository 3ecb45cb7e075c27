import { InvalidArgumentError, Option, type Command } from 'commander';
import { withDatabase } from '../cli-support';
import { requireUserByEmail } from '../users/users';
import { createApiToken, listApiTokens, revokeApiToken } from './api-tokens';
import { apiTokenAccesses, type TApiTokenAccess } from './schemas';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function instant(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('must be a date or an ISO 8601 instant, e.g. 2026-12-31 or 2026-12-31T18:00:00Z');
  return date.toISOString();
}

/** `token create|list|revoke`: API tokens for scripts (/api/v1). */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens for scripts (/api/v1)');
  token
    .command('create')
    .description('create a token acting for a project admin; prints the secret once (only its hash is stored)')
    .requiredOption('--name <name>', 'what the token is for, e.g. "training cluster"')
    .requiredOption('--project <slugs...>', 'the projects the token may reach; the user must administer each')
    .addOption(new Option('--access <access>', 'read: list and download; write: also import and build').choices([...apiTokenAccesses]).makeOptionMandatory())
    .requiredOption('--user <email>', 'the admin the token acts for: it never has more rights than they do')
    .option('--expires <when>', 'when the token stops working (a date or an ISO 8601 instant); default: until revoked', instant)
    .action(async (opts: { name: string; project: string[]; access: TApiTokenAccess; user: string; expires?: string }) => {
      await withDatabase(async ({ db }) => {
        const creator = await requireUserByEmail(db, opts.user);
        const { token: created, secret } = await createApiToken(db, creator, { name: opts.name, projects: opts.project, access: opts.access, expiresAt: opts.expires ?? null });
        console.error(
          `created ${created.access} token ${created.id} "${created.name}" for ${creator.email} on ${created.projects.map((p) => p.slug).join(', ')}${created.expiresAt ? `, until ${created.expiresAt.toISOString()}` : ''}. The secret below is shown only once:`,
        );
        // The secret alone on stdout, so that `$(npm run -s cli -- token create ...)` captures just it.
        console.log(secret);
      });
    });
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .action(async () => {
      await withDatabase(async ({ db }) => {
        const all = await listApiTokens(db, { user: null });
        if (all.length === 0) console.log('no API tokens');
        for (const t of all) {
          const used = t.lastUsedAt ? `last used ${t.lastUsedAt.toISOString()}` : 'never used';
          console.log(`${t.id}\t${t.prefix}…\t${t.access}\t${t.status}\t${t.name}\t${t.projects.map((p) => p.slug).join(',')}\t${t.createdBy.email}\t${used}`);
        }
      });
    });
  token
    .command('revoke')
    .description('revoke a token for good: requests with it are refused from now on')
    .requiredOption('--id <id>', 'token id (see `token list`)', positiveInt)
    .action(async (opts: { id: number }) => {
      await withDatabase(async ({ db }) => {
        const revoked = await revokeApiToken(db, null, opts.id);
        console.log(`revoked token ${revoked.id} "${revoked.name}" (${revoked.prefix}…)`);
      });
    });
}
