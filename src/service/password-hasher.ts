// Password hashing with bcrypt, off the event loop (bcrypt's async functions
// run on libuv's thread pool) and through a bounded WorkQueue.
import bcrypt from "bcrypt";
import { parseM3oHash } from "./imported-hash.js";
import { newToken } from "./tokens.js";
import type { HashingSlots, WorkQueue, WorkRunner } from "./work-queue.js";

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** `place`: a place reserved in the queue beforehand (WorkQueue.reserve); else the queue itself. */
  verify(password: string, hash: string, place?: WorkRunner): Promise<boolean>;
  /**
   * Spend the same effort as verify() against a real hash, and fail. Used for
   * unknown accounts so that "no such user" takes as long as "wrong password".
   */
  verifyNothing(password: string, place?: WorkRunner): Promise<false>;
  /** Whether a stored hash should be re-made at the configured cost (imported, or made at an older cost). */
  needsRehash(hash: string): boolean;
  /** Places in the hashing queue, taken before the steps that lead to a verify. */
  readonly slots: HashingSlots;
}

export interface HashTiming {
  observeHash(op: "hash" | "verify", seconds: number): void;
}

export interface BcryptHasherDeps {
  /** bcrypt cost of new hashes (BCRYPT_COST). */
  cost: number;
  /** Bounds how many hashes run and wait at once. */
  queue: WorkQueue;
  timing?: HashTiming;
}

/** The cost of a bcrypt hash ($2a$, $2b$ or $2y$), or undefined for anything else. */
function costOf(hash: string): number | undefined {
  const match = /^\$2[aby]\$(\d{2})\$/.exec(hash);
  return match ? Number(match[1]) : undefined;
}

/** The last few durations of one kind of work, for their median. */
class RecentTimes {
  private readonly times: number[] = [];

  constructor(private readonly size: number) {}

  add(ms: number): void {
    this.times.push(ms);
    if (this.times.length > this.size) this.times.shift();
  }

  median(): number | undefined {
    if (this.times.length === 0) return undefined;
    const sorted = [...this.times].sort((a, b) => a - b);
    return sorted[sorted.length >> 1];
  }
}

export class BcryptHasher implements PasswordHasher {
  readonly cost: number;
  readonly queue: WorkQueue;
  private readonly timing: HashTiming | undefined;
  private dummyHash: Promise<string> | undefined;
  /** How long recent checks at BCRYPT_COST took (real and dummy), on this machine under its current load. */
  private readonly fullVerifyMs = new RecentTimes(31);

  constructor(deps: BcryptHasherDeps) {
    this.cost = deps.cost;
    this.queue = deps.queue;
    this.timing = deps.timing;
  }

  get slots(): HashingSlots {
    return this.queue;
  }

  hash(password: string): Promise<string> {
    return this.queue.run(() => this.timed("hash", () => bcrypt.hash(password, this.cost)));
  }

  verify(password: string, hash: string, place: WorkRunner = this.queue): Promise<boolean> {
    // An imported M3O hash covers its fixed prefix, its salt and the password
    // (of which bcrypt reads what fits in 72 bytes, as M3O's did).
    const m3o = parseM3oHash(hash);
    const [secret, bcryptHash] = m3o ? [m3o.secretPrefix + password, m3o.bcrypt] : [password, hash];
    return place.run(() =>
      this.timed("verify", async () => {
        const start = performance.now();
        const ok = await bcrypt.compare(secret, bcryptHash);
        const cost = costOf(bcryptHash);
        if (cost === this.cost) this.fullVerifyMs.add(performance.now() - start);
        else if (cost !== undefined && cost < this.cost) await this.padToFullCost(password, start);
        return ok;
      }),
    );
  }

  needsRehash(hash: string): boolean {
    const match = /^\$2b\$(\d{2})\$/.exec(hash);
    return !match || Number(match[1]) !== this.cost;
  }

  /**
   * A hash of a lower cost (imported, or from before a cost change) is checked
   * faster than an unknown account's dummy hash: padded, holding its hashing
   * slot, to the time recent checks at BCRYPT_COST took, so how long a login
   * takes tells nothing about the account. (Until one has been timed, a
   * comparison at BCRYPT_COST is made instead.)
   */
  private async padToFullCost(password: string, start: number): Promise<void> {
    const target = this.fullVerifyMs.median();
    if (target === undefined) {
      await bcrypt.compare(password, await this.prepare());
      return;
    }
    const rest = target - (performance.now() - start);
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
  }

  async verifyNothing(password: string, place?: WorkRunner): Promise<false> {
    await this.verify(password, await this.prepare(), place);
    return false;
  }

  /**
   * Makes the dummy hash: a hash of a random secret at the configured cost.
   * Comparing against it costs what a real comparison costs, and never matches.
   * Called at start so the first unknown-account login is not slower.
   */
  prepare(): Promise<string> {
    this.dummyHash ??= bcrypt.hash(newToken(), this.cost).then(async (dummy) => {
      // The first timing of a check at BCRYPT_COST, for padToFullCost.
      const start = performance.now();
      await bcrypt.compare(newToken(), dummy);
      this.fullVerifyMs.add(performance.now() - start);
      return dummy;
    });
    return this.dummyHash;
  }

  private async timed<T>(op: "hash" | "verify", work: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      return await work();
    } finally {
      this.timing?.observeHash(op, Number(process.hrtime.bigint() - start) / 1e9);
    }
  }
}
