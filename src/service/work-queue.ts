// Runs expensive work (password hashing) with bounded concurrency and a
// bounded waiting line. When the line is full, work is refused at once with
// RESOURCE_EXHAUSTED: a flood of logins must not grow memory without bound or
// make every caller wait forever; cheap calls keep being served meanwhile.
import { ServiceError } from "./errors.js";

export interface WorkQueueStats {
  running: number;
  waiting: number;
}

export class WorkQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {
    if (concurrency < 1) throw new Error("concurrency must be at least 1");
  }

  stats(): WorkQueueStats {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new ServiceError("resource_exhausted", "the service is busy hashing passwords; retry shortly", {
          retryAfterSeconds: 1,
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter (running stays the same).
      if (next) next();
      else this.running--;
    }
  }
}
