// One log line per call: request id, namespace, RPC, protocol, code, duration.
import type { CallObserver } from "../transport/observe-interceptor.js";
import type { Logger } from "./logger.js";

export function logCalls(logger: Logger): CallObserver {
  return (call) => {
    const line = {
      request_id: call.requestId,
      namespace: call.namespace,
      rpc: `${call.service}/${call.rpc}`,
      protocol: call.protocol,
      code: call.code,
      duration_ms: Math.round(call.durationSeconds * 1e6) / 1e3,
    };
    if (call.cause !== undefined) {
      logger.error({ ...line, err: call.cause }, "call failed unexpectedly");
    } else {
      logger.info(line, "call");
    }
  };
}
