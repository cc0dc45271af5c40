// A clock a test moves by hand, for sessions and throttles that expire: pass
// `clock.now` where the code takes `now: () => number`. It starts at a fixed,
// realistic time so no test depends on the wall clock.
export class TestClock {
  constructor(private ms = Date.UTC(2026, 0, 15, 12, 0, 0)) {}

  readonly now = (): number => this.ms;

  /** Moves the clock forward by whole or fractional seconds. */
  advance(seconds: number): void {
    this.ms += Math.round(seconds * 1000);
  }

  /** The current time in unix seconds, as the API reports times. */
  seconds(): number {
    return Math.floor(this.ms / 1000);
  }
}
