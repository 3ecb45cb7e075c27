import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { TRejectedLine } from './import-formats';

/**
 * The rejected lines of a lenient import, streamed to a JSONL file (`{file, line, reason}` a
 * line) as they come, so a file with millions of bad lines costs no memory. The file is
 * created at the first rejected line: a clean import leaves none behind.
 */
export class RejectReport {
  private out: WriteStream | null = null;
  private failure: Error | null = null;
  count = 0;

  constructor(readonly path: string) {}

  async add(rejected: TRejectedLine): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.out) {
      this.out = createWriteStream(this.path);
      this.out.on('error', (error) => (this.failure ??= error));
    }
    this.count += 1;
    if (!this.out.write(JSON.stringify(rejected) + '\n')) await Promise.race([once(this.out, 'drain'), once(this.out, 'close')]);
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    const out = this.out;
    if (!out) return;
    this.out = null;
    if (!out.destroyed) {
      out.end();
      await once(out, 'close').catch(() => {});
    }
    if (this.failure) throw new Error(`cannot write the reject report ${this.path}: ${this.failure.message}`);
  }
}
