// What a load generator process is asked to do, and what it answers. The bench
// writes a LoadSpec as JSON to the child's stdin; the child prints a LoadResult
// as JSON on its stdout.
import type { LatencySummary } from "./latency.js";

export interface HttpRequestSpec {
  path: string;
  headers: Record<string, string>;
  /** Sent in turn, one request each (prebuilt by autocannon). */
  bodies: string[];
  /**
   * When set, every request gets a fresh body from this template instead:
   * each "{{n}}" becomes a number unique to this load run.
   */
  uniqueTemplate?: string;
}

export interface GrpcRequestSpec {
  method: string;
  metadata: Record<string, string>;
  /** Request objects (proto field names), sent in turn. */
  requests: object[];
}

export interface LoadSpec {
  kind: "http" | "grpc";
  /** http: "http://127.0.0.1:PORT"; grpc: "127.0.0.1:PORT". */
  target: string;
  connections: number;
  /** HTTP only: pace the calls to this many per second in all (unpaced when absent). */
  ratePerSecond?: number;
  warmupSeconds: number;
  /** The warm-up goes on, 5 s at a time, until this many calls succeeded (see BenchOptions.warmupCalls). */
  warmupCalls?: number;
  durationSeconds: number;
  http?: HttpRequestSpec;
  grpc?: GrpcRequestSpec;
}

export interface LoadResult {
  /** Successful calls (2xx, or gRPC OK) in the measured period. */
  ok: number;
  /** Failed calls: non-2xx, gRPC errors, socket errors and timeouts. */
  failed: number;
  seconds: number;
  /** ok / seconds. */
  throughput: number;
  /** Successful calls during the warm-up (not counted in any figure). */
  warmupOk?: number;
  /** Floors measured in the generator's own process (bcrypt): its CPU time per operation, in µs. */
  cpuUsPerOp?: number;
  /** The load generator's own CPU time per successful call of the measured period, in µs (it shares the cores). */
  clientCpuUsPerCall?: number;
  latency: LatencySummary;
  /** First error seen, to tell what went wrong. */
  firstError?: string;
}

/** The line a load generator prints on stdout when its measured period starts (its result follows it). */
export const MEASURING_MARK = "measuring";

/** The longest a warm-up goes on for warmupCalls. */
export const WARMUP_MAX_SECONDS = 60;

/**
 * Runs the warm-up: warmupSeconds, then 5 s more at a time while fewer than
 * warmupCalls calls succeeded (WARMUP_MAX_SECONDS at most). Returns the calls
 * that succeeded.
 */
export async function warmUp(spec: LoadSpec, run: (seconds: number) => Promise<LoadResult>): Promise<number> {
  if (spec.warmupSeconds <= 0) return 0;
  let ok = (await run(spec.warmupSeconds)).ok;
  let seconds = spec.warmupSeconds;
  while (ok < (spec.warmupCalls ?? 0) && seconds < WARMUP_MAX_SECONDS) {
    ok += (await run(5)).ok;
    seconds += 5;
  }
  return ok;
}
