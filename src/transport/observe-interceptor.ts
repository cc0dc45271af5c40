// The outermost interceptor of every call: gives the call a request id, maps
// errors to protocol errors (src/transport/error-mapping.ts), and reports the
// finished call (RPC, protocol, namespace, code, duration) to the observers
// (the log line and the metrics). Secrets never pass through here: only
// names, codes and timings are reported.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { callerKey, m3oCallKey, type Protocol, protocolOf, requestIdKey } from "./call-context.js";
import { toConnectError } from "./error-mapping.js";

export interface CallReport {
  requestId: string;
  service: string;
  rpc: string;
  protocol: Protocol;
  namespace: string | undefined;
  code: string;
  durationSeconds: number;
  /** Public message of a failed call. */
  message?: string;
  /** The unexpected error behind an Internal failure (for the log only). */
  cause?: unknown;
}

export type CallObserver = (report: CallReport) => void;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function observeInterceptor(observers: CallObserver[]): Interceptor {
  return (next) => async (req) => {
    const start = process.hrtime.bigint();
    const given = req.header.get("x-request-id");
    // A caller's request id is kept only if it is short and plain (it ends up in logs).
    const requestId = given !== null && REQUEST_ID.test(given) ? given : randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    const report = (code: string, extra: Partial<CallReport> = {}) => {
      const call: CallReport = {
        requestId,
        service: req.service.typeName,
        rpc: req.method.name,
        protocol: protocolOf(req.header.get("content-type"), req.contextValues.get(m3oCallKey)),
        namespace: req.contextValues.get(callerKey)?.namespace,
        code,
        durationSeconds: Number(process.hrtime.bigint() - start) / 1e9,
        ...extra,
      };
      for (const observe of observers) observe(call);
    };
    const fail = (err: unknown) => {
      const { error, unexpected } = toConnectError(err);
      error.metadata.set("x-request-id", requestId);
      report(
        codeName(error.code),
        unexpected ? { cause: err, message: error.rawMessage } : { message: error.rawMessage },
      );
      return error;
    };
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      if (!res.stream) {
        report("ok");
        return res;
      }
      // A streaming call ends when its last message is sent: report it then.
      return { ...res, message: reportWhenDone(res.message, () => report("ok"), fail) };
    } catch (err) {
      throw fail(err);
    }
  };
}

async function* reportWhenDone<T>(
  messages: AsyncIterable<T>,
  done: () => void,
  fail: (err: unknown) => Error,
): AsyncIterable<T> {
  let settled = false;
  try {
    yield* messages;
    settled = true;
    done();
  } catch (err) {
    settled = true;
    throw fail(err);
  } finally {
    // Stopped early: the client went away or the server is draining.
    if (!settled) fail(new ConnectError("stream ended early", Code.Canceled));
  }
}

/** gRPC-style snake_case code names ("invalid_argument"), as Connect writes them. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
