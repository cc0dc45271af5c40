// A background loop that runs rounds of work: at start, on wake() (soon, not
// inside the caller's own call), every pollMs, and again at once while a round
// comes back with a full batch. Stopping waits for the round in flight.
export interface PollLoopDeps {
  /** One round; returns how many items it handled. */
  round: () => Promise<number>;
  batchSize: number;
  pollMs: number;
  wakeDelayMs?: number;
  onError: (err: unknown) => void;
}

export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(private readonly deps: PollLoopDeps) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(this.deps.wakeDelayMs ?? 20);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), delayMs);
    this.timer.unref();
  }

  private run(): void {
    if (this.stopped || this.running) return;
    this.running = (async () => {
      try {
        while (!this.stopped && (await this.deps.round()) >= this.deps.batchSize);
      } catch (err) {
        this.deps.onError(err);
      }
    })().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      const again = this.again;
      this.again = false;
      this.schedule(again ? 0 : this.deps.pollMs);
    });
  }
}
