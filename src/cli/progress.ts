// Progress of long CLI jobs: on a terminal a live line (count, rate, ETA when
// the total is known); elsewhere (pipes, CI logs) only the final summary line.

export class Progress {
  private count = 0;
  private done = 0;
  private lastDraw = 0;
  private readonly started = Date.now();
  private readonly live: boolean;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
    /** Units of work in all (bytes of input, rows), when known. */
    private readonly total?: number,
  ) {
    this.live = Boolean(out.isTTY);
  }

  /** Records `items` more items handled; `units` of the total done so far (e.g. bytes read). */
  tick(items: number, units?: number): void {
    this.count += items;
    if (units !== undefined) this.done = units;
    if (!this.live) return;
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    this.out.write(`\r\x1b[2K${this.line()}`);
  }

  /** Prints the summary line (replacing the live line on a terminal). */
  finish(summary: string): void {
    if (this.live) this.out.write("\r\x1b[2K");
    this.out.write(`${this.label}: ${summary} in ${this.seconds().toFixed(1)} s (${this.rate()}/s)\n`);
  }

  private line(): string {
    let text = `${this.label}: ${this.count.toLocaleString("en")} (${this.rate()}/s`;
    if (this.total && this.done > 0) {
      const fraction = Math.min(1, this.done / this.total);
      const eta = (this.seconds() / fraction) * (1 - fraction);
      text += `, ${Math.floor(fraction * 100)}%, ETA ${formatDuration(eta)}`;
    }
    return `${text})`;
  }

  private seconds(): number {
    return Math.max(0.001, (Date.now() - this.started) / 1000);
  }

  private rate(): string {
    return Math.round(this.count / this.seconds()).toLocaleString("en");
  }
}

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}
