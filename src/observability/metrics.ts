// Prometheus metrics (prom-client), one registry per server so several
// servers in one process (tests) never mix their counts.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { HashTiming } from "../service/password-hasher.js";
import type { WorkQueue } from "../service/work-queue.js";
import type { CallObserver } from "../transport/observe-interceptor.js";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DB_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

export class Metrics implements HashTiming {
  readonly registry = new Registry();
  private readonly calls: Counter<"rpc" | "protocol" | "code">;
  private readonly callSeconds: Histogram<"rpc">;
  private readonly hashSeconds: Histogram<"op">;
  private readonly dbSeconds: Histogram<"operation" | "engine">;
  private readonly refusals: Counter<"status">;
  private readonly refusedConnections: Counter<"limit">;

  constructor(options: { processMetrics?: boolean; openConnections?: () => number } = {}) {
    const registers = [this.registry];
    this.calls = new Counter({
      name: "users_rpc_calls_total",
      help: "Finished RPCs by method, protocol (grpc, grpc-web, connect, m3o) and code.",
      labelNames: ["rpc", "protocol", "code"],
      registers,
    });
    this.callSeconds = new Histogram({
      name: "users_rpc_duration_seconds",
      help: "Time from the start of an RPC to its answer, by method.",
      labelNames: ["rpc"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.hashSeconds = new Histogram({
      name: "users_password_hash_duration_seconds",
      help: "Time to compute (hash) or check (verify) one bcrypt hash, on the thread pool.",
      labelNames: ["op"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.dbSeconds = new Histogram({
      name: "users_db_operation_duration_seconds",
      help: "Time of each storage operation, by repository method and engine.",
      labelNames: ["operation", "engine"],
      buckets: DB_BUCKETS,
      registers,
    });
    this.refusals = new Counter({
      name: "users_http_refusals_total",
      help: "Requests answered before they became calls (unknown path or method, body too large, too slow, headers too large), by HTTP status.",
      labelNames: ["status"],
      registers,
    });
    this.refusedConnections = new Counter({
      name: "users_connections_refused_total",
      help: "Connections closed when accepted, by the cap they would have broken: server (MAX_CONNECTIONS) or address (MAX_CONNECTIONS_PER_ADDRESS).",
      labelNames: ["limit"],
      registers,
    });
    const openConnections = options.openConnections;
    if (openConnections) {
      new Gauge({
        name: "users_http_connections",
        help: "Open client connections (HTTP/1.1 and HTTP/2).",
        registers,
        collect() {
          this.set(openConnections());
        },
      });
    }
    // The event-loop delay is sampled every 100 ms, not prom-client's 10: each
    // sample wakes the loop, and on a server whose cores are busy hashing a
    // wake takes a core from a hash. A stall still shows in the histogram.
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    }
  }

  /** Reports the hashing queue's depth and the hashes in progress. */
  watchHashQueue(queue: Pick<WorkQueue, "stats">): void {
    const registers = [this.registry];
    new Gauge({
      name: "users_password_hash_queue_waiting",
      help: "Password hashes waiting for a free hashing slot.",
      registers,
      collect() {
        this.set(queue.stats().waiting);
      },
    });
    new Gauge({
      name: "users_password_hash_running",
      help: "Password hashes being computed now.",
      registers,
      collect() {
        this.set(queue.stats().running);
      },
    });
  }

  /** Counts and times every finished RPC. */
  readonly observeCall: CallObserver = (call) => {
    const rpc = `${call.service}/${call.rpc}`;
    this.calls.inc({ rpc, protocol: call.protocol, code: call.code });
    this.callSeconds.observe({ rpc }, call.durationSeconds);
  };

  observeRefusal(status: number): void {
    this.refusals.inc({ status: String(status) });
  }

  observeRefusedConnection(limit: "server" | "address"): void {
    this.refusedConnections.inc({ limit });
  }

  observeHash(op: "hash" | "verify", seconds: number): void {
    this.hashSeconds.observe({ op }, seconds);
  }

  observeDb(engine: string, operation: string, seconds: number): void {
    this.dbSeconds.observe({ operation, engine }, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
