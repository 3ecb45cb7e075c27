import { AppError } from '../errors';

/** Refused because too much work of this kind is already running and waiting. */
export class BusyError extends AppError {
  constructor(message: string) {
    super('TOO_MANY_REQUESTS', message);
  }
}

export interface TSemaphore {
  /** Runs `work` once a slot is free; throws BusyError at once when the queue is full. */
  run<T>(work: () => Promise<T>): Promise<T>;
  readonly running: number;
  readonly waiting: number;
}

/** At most `max` tasks at a time, at most `maxWaiting` more in line; beyond that, refuse. */
export function createSemaphore(options: { max: number; maxWaiting: number; busyMessage: string }): TSemaphore {
  let running = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else running--;
  };
  return {
    async run<T>(work: () => Promise<T>): Promise<T> {
      if (running < options.max) running++;
      else if (queue.length < options.maxWaiting) await new Promise<void>((resolve) => queue.push(resolve)); // the slot is handed over by release()
      else throw new BusyError(options.busyMessage);
      try {
        return await work();
      } finally {
        release();
      }
    },
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
  };
}
