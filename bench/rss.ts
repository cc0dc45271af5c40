// Samples a process's resident set size from /proc/<pid>/status (VmRSS), so
// the server's memory is measured from outside, through the whole run.
import fs from "node:fs";

export interface RssSample {
  /** Milliseconds since the sampler started. */
  atMs: number;
  mb: number;
}

export class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Takes a sample now and returns it (undefined once the process is gone). */
  sample(): RssSample | undefined {
    let status: string;
    try {
      status = fs.readFileSync(`/proc/${this.pid}/status`, "utf8");
    } catch {
      return undefined;
    }
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
    if (!Number.isFinite(kb)) return undefined;
    const sample = { atMs: Date.now() - this.started, mb: kb / 1024 };
    this.samples.push(sample);
    return sample;
  }

  /** Milliseconds since the sampler started (to mark the start of a phase). */
  now(): number {
    return Date.now() - this.started;
  }

  maxMb(fromMs = 0, toMs = Infinity): number {
    return Math.max(0, ...this.between(fromMs, toMs).map((s) => s.mb));
  }

  between(fromMs: number, toMs: number): RssSample[] {
    return this.samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
