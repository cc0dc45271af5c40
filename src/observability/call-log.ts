// One log line per call: request id, namespace, RPC, protocol, code, duration.
//
// Which calls get a line is LOG_CALLS: every call; only failed or slow ones;
// or (the default) every failed or slow call and successful ones up to a rate
// a second. A line costs more event-loop time than anything else a cheap call
// does besides its query (timestamp, JSON, a write to stdout): at thousands of
// calls a second, writing each successful one is most of what separates the
// service from a bare handler. Successful calls not logged are counted, and
// the next line written says how many (`unlogged_calls`), so no call goes
// unaccounted for; metrics count every call whatever this says.
import type { CallObserver } from "../transport/observe-interceptor.js";
import type { Logger } from "./logger.js";

export type CallLogMode = "all" | "errors" | "sample";

export interface CallLogPolicy {
  mode: CallLogMode;
  /** sample: successful calls logged per second at most. */
  perSecond: number;
  /** A call at least this long (ms) is always logged. */
  slowMs: number;
}

export const LOG_EVERY_CALL: CallLogPolicy = { mode: "all", perSecond: Number.POSITIVE_INFINITY, slowMs: 0 };

export function logCalls(logger: Logger, policy: CallLogPolicy = LOG_EVERY_CALL, now = Date.now): CallObserver {
  // A call line holds only the fields below, none of which is ever a secret,
  // so it skips the redaction pass the logger makes over every other line (a
  // no-op on these fields, yet two thirds of a line's cost: about 7 µs of
  // every call in the bench's profile). Lines of failed calls carry the error
  // and keep the redaction.
  const calls = logger.child({}, { redact: { paths: [] } });
  const budget = policy.mode === "all" ? Number.POSITIVE_INFINITY : policy.mode === "errors" ? 0 : policy.perSecond;
  let windowStart = 0;
  let loggedInWindow = 0;
  let unlogged = 0;
  const wanted = (code: string, durationMs: number): boolean => {
    if (code !== "ok" || durationMs >= policy.slowMs || budget === Number.POSITIVE_INFINITY) return true;
    if (budget === 0) return false;
    const t = now();
    if (t - windowStart >= 1000) {
      windowStart = t;
      loggedInWindow = 0;
    }
    return ++loggedInWindow <= budget;
  };
  return (call) => {
    const durationMs = Math.round(call.durationSeconds * 1e6) / 1e3;
    if (!wanted(call.code, durationMs)) {
      unlogged++;
      return;
    }
    const line: Record<string, unknown> = {
      request_id: call.requestId,
      namespace: call.namespace,
      rpc: `${call.service}/${call.rpc}`,
      protocol: call.protocol,
      code: call.code,
      duration_ms: durationMs,
    };
    if (unlogged > 0) {
      line.unlogged_calls = unlogged;
      unlogged = 0;
    }
    if (call.cause !== undefined) {
      logger.error({ ...line, err: call.cause }, "call failed unexpectedly");
    } else {
      calls.info(line, "call");
    }
  };
}
