import { fileURLToPath } from 'node:url';

/**
 * How an executor job reaches its run folder (`runs/<id>/`: config, data, host scripts, output).
 * With a local or mounted artifact store the folder is a path the host shares with the worker, and
 * the command is the program itself. With an S3 store the command is a short shell script: the
 * folder (the output too, so a retry finds its checkpoints) is synced to a scratch folder, the
 * output is uploaded every few minutes while the job runs (checkpoints reach the store during
 * training, not only at the end) and once more at the end. The host needs the AWS CLI.
 */

export function isRemote(uri: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file:');
}

/** A file:// URI is a path on a filesystem the host shares with the worker. */
export function hostPath(uri: string): string {
  return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
}

/** `$NAME` stays a variable the shell expands (node rank, first node's address); anything else is quoted. */
export function shellQuoteArg(arg: string): string {
  if (/^\$[A-Z_][A-Z0-9_]*$/.test(arg)) return `"${arg}"`;
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Seconds between uploads of the output while a job runs on an S3 store. */
export const outputUploadSeconds = 300;

export interface TRunFolder {
  /** The run folder as the job sees it. */
  dir: string;
  /** The URI of the run folder in the artifact store. */
  uri: string;
  remote: boolean;
}

export function runFolder(runFolderUri: string, runRef: number | string): TRunFolder {
  const remote = isRemote(runFolderUri);
  return { uri: runFolderUri, remote, dir: remote ? `/tmp/pairwise-run-${String(runRef)}` : hostPath(runFolderUri).replace(/\/$/, '') };
}

/** s3:// weights a job reads: copied next to the run folder before the program starts. */
export interface TRemoteWeights {
  uri: string;
  local: string;
}

/** The argv of the job: the program itself, or a shell script around it (S3 store, remote weights, shell variables). */
export function jobCommand(folder: TRunFolder, program: string[], remoteWeights: TRemoteWeights[] = []): string[] {
  const needsShell = folder.remote || remoteWeights.length > 0 || program.some((a) => a.startsWith('$'));
  if (!needsShell) return program;
  const q = shellQuoteArg;
  const outputUri = `${folder.uri.replace(/\/$/, '')}/output`;
  const steps = ['set -euo pipefail'];
  if (folder.remote) {
    steps.push(`mkdir -p ${q(folder.dir)}`, `aws s3 sync ${q(folder.uri)} ${q(folder.dir)} --exclude 'logs/*' --only-show-errors`);
    steps.push(
      `( while sleep ${outputUploadSeconds}; do aws s3 sync ${q(`${folder.dir}/output`)} ${q(outputUri)} --only-show-errors || true; done ) &`,
      'uploader=$!',
      "trap 'kill $uploader 2>/dev/null || true' EXIT",
    );
  }
  for (const w of remoteWeights) steps.push(`aws s3 sync ${q(w.uri)} ${q(w.local)} --only-show-errors`);
  steps.push(program.map(q).join(' '));
  if (folder.remote) steps.push(`aws s3 sync ${q(`${folder.dir}/output`)} ${q(outputUri)} --only-show-errors`);
  return ['bash', '-c', steps.join('\n')];
}
