import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { withDatabase } from '../cli-support';
import { auditEventLine, auditEventPages, resolveAuditFilters } from './audit';

type TFilterOptions = { action?: string; project?: string; actor?: string };

const filterOptions = (command: Command) =>
  command
    .option('--action <action>', 'only this action, e.g. project.settings or cli:member remove')
    .option('--project <slug>', 'only changes in this project')
    .option('--actor <email>', 'only changes by this user');

/** `audit list|export`: what admins changed, and when. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit log of admin actions (web, API and command line)');
  filterOptions(audit.command('list').description('the newest events, one a line'))
    .option('--limit <n>', 'how many', (v) => Math.max(1, Math.min(10_000, Number.parseInt(v, 10) || 50)), 50)
    .action(async (opts: TFilterOptions & { limit: number }) => {
      await withDatabase(async ({ db }) => {
        const filters = await resolveAuditFilters(db, opts);
        let shown = 0;
        for await (const page of auditEventPages(db, filters, Math.min(opts.limit, 1000))) {
          for (const e of page) {
            if (shown++ >= opts.limit) return;
            console.log(`${e.at.toISOString()}\t${e.action}\t${e.actor}\t${e.via}\t${e.project ?? ''}\t${e.target ?? ''}`);
          }
        }
        if (shown === 0) console.log('no audit events');
      });
    });
  filterOptions(audit.command('export').description('every matching event as JSON Lines, newest first'))
    .requiredOption('--out <file>', 'where to write (- for stdout)')
    .action(async (opts: TFilterOptions & { out: string }) => {
      await withDatabase(async ({ db }) => {
        const filters = await resolveAuditFilters(db, opts);
        const lines = Readable.from(
          (async function* () {
            for await (const page of auditEventPages(db, filters)) yield page.map(auditEventLine).join('');
          })(),
        );
        await pipeline(lines, opts.out === '-' ? process.stdout : createWriteStream(opts.out));
      });
    });
}
