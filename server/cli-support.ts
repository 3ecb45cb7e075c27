import { createInterface } from 'node:readline';
import cliProgress from 'cli-progress';
import { eq } from 'drizzle-orm';
import { createDb, type TDbHandle } from '@/db/client';
import { projects } from '@/db/schema';
import { recordAudit, type TAuditEntry } from './audit/audit';
import { dataDir } from './env';
import { isAppError } from './errors';
import { prepareDatabase, resolveDatabase } from './setup/installation';

/**
 * Runs a CLI command against the same database as `npm start`: DATABASE_URL when set, else
 * the embedded server (the running one, or one started just for this command).
 */
export async function withDatabase<T>(fn: (handle: TDbHandle, url: string) => Promise<T>): Promise<T> {
  const lease = await resolveDatabase(dataDir());
  try {
    await prepareDatabase(lease.url);
    const handle = createDb(lease.url, { max: 4, applicationName: 'pairwise-cli' });
    try {
      const result = await fn(handle, lease.url);
      await recordPendingAudit(handle);
      return result;
    } finally {
      await handle.close();
    }
  } finally {
    if (lease.owned) await lease.stop();
  }
}

let pendingAudit: (TAuditEntry & { projectSlug?: string }) | null = null;

/** The command about to run changes something: withDatabase records it in the audit log once it succeeded. */
export function auditCliCommand(entry: TAuditEntry & { projectSlug?: string }): void {
  pendingAudit = entry;
}

async function recordPendingAudit({ db }: TDbHandle): Promise<void> {
  if (!pendingAudit) return;
  const { projectSlug, ...entry } = pendingAudit;
  pendingAudit = null;
  const [project] = projectSlug ? await db.select({ id: projects.id }).from(projects).where(eq(projects.slug, projectSlug)) : [];
  await recordAudit(db, { via: 'cli' }, { ...entry, projectId: project?.id ?? null });
}

/** Reads a secret from stdin: the whole of a pipe, or one line typed at a terminal. */
export async function readSecretFromStdin(prompt: string): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write(prompt);
    const rl = createInterface({ input: process.stdin, terminal: false });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return '';
  }
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, '');
}

export function progressBar(label: string, unit: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {eta_formatted} left`, hideCursor: true, clearOnComplete: false, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
}

/** Prints a clear message and sets a failing exit code; unknown errors keep their stack. */
export function reportCliError(error: unknown): void {
  if (isAppError(error)) console.error(`error: ${error.message}`);
  else console.error(error);
  process.exitCode = 1;
}
