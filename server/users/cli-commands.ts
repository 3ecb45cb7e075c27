import type { Command } from 'commander';
import { withDatabase } from '../cli-support';
import { removeMember } from '../projects/members';
import { requireProjectBySlug } from '../projects/projects';
import { disableUser, enableUser, listUsers, revokeSessions } from './account-status';
import { requireUserByEmail } from './users';

/** The command group `name`, created by server/cli.ts before this runs. */
function group(program: Command, name: string): Command {
  const found = program.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`the CLI has no "${name}" command group`);
  return found;
}

/** `user list|disable|enable|sign-out-everywhere` and `member remove`. */
export function registerUserCommands(program: Command): void {
  const user = group(program, 'user');
  user
    .command('list')
    .description('list users: role, status, last sign-in')
    .action(async () => {
      await withDatabase(async ({ db }) => {
        const all = await listUsers(db);
        if (all.length === 0) console.log('no users');
        for (const u of all) {
          const status = u.disabledAt ? `disabled since ${u.disabledAt.toISOString()}` : 'active';
          console.log(`${u.id}\t${u.email}\t${u.role}\t${status}\t${u.lastSignInAt ? `last sign-in ${u.lastSignInAt.toISOString()}` : 'never signed in'}`);
        }
      });
    });
  user
    .command('disable')
    .description('disable a user: no sign-in, their sessions end at once, their API tokens stop working')
    .requiredOption('--email <email>', 'the user’s email')
    .action(async (opts: { email: string }) => {
      await withDatabase(async ({ db }) => {
        const u = await requireUserByEmail(db, opts.email);
        await disableUser(db, u.id);
        console.log(`disabled ${u.email}; their sessions have ended`);
      });
    });
  user
    .command('enable')
    .description('let a disabled user sign in again')
    .requiredOption('--email <email>', 'the user’s email')
    .action(async (opts: { email: string }) => {
      await withDatabase(async ({ db }) => {
        const u = await requireUserByEmail(db, opts.email);
        await enableUser(db, u.id);
        console.log(`enabled ${u.email}; they can sign in again`);
      });
    });
  user
    .command('sign-out-everywhere')
    .alias('revoke-sessions')
    .description('end every session of a user (each browser must sign in again); API tokens are not affected')
    .requiredOption('--email <email>', 'the user’s email')
    .action(async (opts: { email: string }) => {
      await withDatabase(async ({ db }) => {
        const u = await requireUserByEmail(db, opts.email);
        await revokeSessions(db, u.id);
        console.log(`ended every session of ${u.email}`);
      });
    });

  group(program, 'member')
    .command('remove')
    .description('remove a user from a project; they lose access at once (the last project admin stays unless --force)')
    .requiredOption('--project <slug>', 'project slug')
    .requiredOption('--email <email>', 'the user’s email')
    .option('--force', 'remove even the project’s last admin (platform admins still reach it)', false)
    .action(async (opts: { project: string; email: string; force: boolean }) => {
      await withDatabase(async ({ db }) => {
        const p = await requireProjectBySlug(db, opts.project);
        const u = await requireUserByEmail(db, opts.email);
        await removeMember(db, { projectId: p.id, userId: u.id, email: u.email, byPlatformAdmin: opts.force });
        console.log(`removed ${u.email} from ${p.slug}`);
      });
    });
}
