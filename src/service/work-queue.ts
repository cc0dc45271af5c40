// Runs expensive work (password hashing) with bounded concurrency and a
// bounded waiting line. When the line is full, work is refused at once with
// RESOURCE_EXHAUSTED: a flood of logins must not grow memory without bound or
// make every caller wait forever; cheap calls keep being served meanwhile.
import { ServiceError } from "./errors.js";

export interface WorkQueueStats {
  running: number;
  waiting: number;
}

/** Runs work through the queue: the queue itself, or a place reserved in it. */
export interface WorkRunner {
  run<T>(work: () => Promise<T>): Promise<T>;
}

/** What services need of the queue: a place held across the steps before a hash (withPlace). */
export interface HashingSlots {
  withPlace<T>(work: (place: WorkRunner) => Promise<T>): Promise<T>;
}

/** A place in the queue taken before the work starts; run it once, or release it. */
export interface Reservation extends WorkRunner {
  release(): void;
}

export class WorkQueue implements WorkRunner, HashingSlots {
  private running = 0;
  private reserved = 0;
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

  /** Places taken ahead of their work (reserve), not yet run or released. */
  reservedPlaces(): number {
    return this.reserved;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    this.admit();
    return this.runAdmitted(work);
  }

  /**
   * Takes a place now, for work that will come after other steps (a login
   * reserves its hash before its attempt is counted, so that a busy refusal
   * is never counted as a failed guess). Refused like run() when full.
   */
  reserve(): Reservation {
    this.admit();
    this.reserved++;
    let held = true;
    const give = () => {
      if (!held) return false;
      held = false;
      this.reserved--;
      return true;
    };
    return {
      run: <T>(work: () => Promise<T>) => {
        if (!give()) return Promise.reject(new Error("a reservation runs once"));
        return this.runAdmitted(work);
      },
      release: () => void give(),
    };
  }

  /** Runs `work` holding a reserved place (reserve), released however `work` ends. */
  async withPlace<T>(work: (place: WorkRunner) => Promise<T>): Promise<T> {
    const place = this.reserve();
    try {
      return await work(place);
    } finally {
      place.release();
    }
  }

  /** Refuses new work when the slots, the line and the reserved places are all taken. */
  private admit(): void {
    if (this.running + this.waiting.length + this.reserved >= this.concurrency + this.maxWaiting) {
      throw new ServiceError("HASHING_BUSY", { retryAfterSeconds: 1 });
    }
  }

  private async runAdmitted<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
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
