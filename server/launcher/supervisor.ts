import type { ChildProcess } from 'node:child_process';

/**
 * Keeps one child process running: when it exits without being asked to, it is started again
 * after a delay that doubles with each quick failure (1 s up to 30 s) and falls back to 1 s
 * once a run has lasted a minute, so a crash loop does not spin and a rare crash restarts fast.
 */
export const RESTART_DELAY_MIN_MS = 1_000;
export const RESTART_DELAY_MAX_MS = 30_000;
export const HEALTHY_RUN_MS = 60_000;

export interface TSupervised {
  readonly name: string;
  current(): ChildProcess;
  restarts(): number;
  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves once the process is gone and will not be restarted. */
  stop(killAfterMs: number): Promise<void>;
}

/** The delay before the next start, given the last delay and how long the last run lasted. */
export function nextRestartDelay(previousMs: number, ranForMs: number): number {
  if (ranForMs >= HEALTHY_RUN_MS || previousMs === 0) return RESTART_DELAY_MIN_MS;
  return Math.min(previousMs * 2, RESTART_DELAY_MAX_MS);
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

export function supervise(name: string, start: () => ChildProcess, log: (line: string) => void): TSupervised {
  let child = start();
  let startedAt = Date.now();
  let delay = 0;
  let count = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;

  const watch = (current: ChildProcess) => {
    current.once('exit', (code, signal) => {
      if (stopping) return;
      delay = nextRestartDelay(delay, Date.now() - startedAt);
      log(`${name} stopped unexpectedly (${describeExit(code, signal)}); restarting in ${delay / 1000} s`);
      timer = setTimeout(() => {
        timer = null;
        if (stopping) return;
        count++;
        child = start();
        startedAt = Date.now();
        watch(child);
      }, delay);
    });
  };
  watch(child);

  return {
    name,
    current: () => child,
    restarts: () => count,
    async stop(killAfterMs) {
      stopping = true;
      if (timer) clearTimeout(timer);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await gone;
      clearTimeout(kill);
    },
  };
}
