// Whether this replica should receive traffic: the database answers (and its
// migrations are applied, which opening the repository guarantees) and the
// server is not draining. Probes (gRPC Health, /readyz) read it; Watch streams
// are told of every change.
import type { Repository } from "../storage/repository.js";

export type Serving = "SERVING" | "NOT_SERVING";

export interface HealthReport {
  status: Serving;
  /** Why it is not serving, in words (never a secret: no URLs, no error details). */
  reason?: string;
}

const PING_TIMEOUT_MS = 2000;
/**
 * How long a database check's result answers further probes. Probes need no
 * API key, and each check takes a pooled connection: without this a flood of
 * /readyz or Health/Check calls would cost one query each (and could empty a
 * PostgreSQL pool); with it, at most one query a period, whatever the flood.
 */
export const CHECK_CACHE_MS = 1000;

export class HealthMonitor {
  private last: HealthReport = { status: "SERVING" };
  private draining = false;
  private readonly listeners = new Set<(report: HealthReport) => void>();
  private timer: NodeJS.Timeout | undefined;
  /** The database check running, or finished less than cacheMs ago: shared by every probe meanwhile. */
  private recent: { report: Promise<HealthReport>; settledAt?: number } | undefined;

  constructor(
    private readonly repo: Repository,
    private readonly pollMs = 2000,
    private readonly cacheMs = CHECK_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The database's state (checked at most once per cacheMs) and draining; returns (and publishes) the result. */
  async check(): Promise<HealthReport> {
    const report = this.draining ? { status: "NOT_SERVING" as const, reason: "draining" } : await this.checkDatabase();
    // Draining may have begun while the database was being checked.
    const current = this.draining ? { status: "NOT_SERVING" as const, reason: "draining" } : report;
    this.publish(current);
    return current;
  }

  private checkDatabase(): Promise<HealthReport> {
    const recent = this.recent;
    if (recent && (recent.settledAt === undefined || this.now() - recent.settledAt < this.cacheMs)) {
      return recent.report;
    }
    const entry: { report: Promise<HealthReport>; settledAt?: number } = {
      report: this.pingDatabase().then((report) => {
        entry.settledAt = this.now();
        return report;
      }),
    };
    this.recent = entry;
    return entry.report;
  }

  current(): HealthReport {
    return this.last;
  }

  /** From now on, report NOT_SERVING (the server is shutting down). */
  drain(): void {
    this.draining = true;
    this.publish({ status: "NOT_SERVING", reason: "draining" });
    this.stop();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Calls `listener` with every change of status until the returned function is called. */
  subscribe(listener: (report: HealthReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Polls the database so watchers learn of an outage without anyone asking. */
  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async pingDatabase(): Promise<HealthReport> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<HealthReport>((resolve) => {
      timer = setTimeout(
        () => resolve({ status: "NOT_SERVING", reason: "database did not answer in time" }),
        PING_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([
        this.repo.ping().then(
          (): HealthReport => ({ status: "SERVING" }),
          (): HealthReport => ({ status: "NOT_SERVING", reason: "database unreachable" }),
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private publish(report: HealthReport): void {
    const changed = report.status !== this.last.status;
    this.last = report;
    if (changed) for (const listener of this.listeners) listener(report);
  }
}
