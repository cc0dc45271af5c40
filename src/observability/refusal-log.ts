// One log line per request refused before it became a call (an unknown path,
// a body over the limit, a request too slow or too large to parse): the same
// fields as a call line where they apply, so one query finds every answer.
import { randomUUID } from "node:crypto";
import type { Logger } from "./logger.js";

export interface RefusalReport {
  /** grpc, grpc-web, connect, m3o, or http for the other paths (and requests never parsed). */
  protocol: string;
  status: number;
  method: string | undefined;
  path: string | undefined;
  durationMs: number;
}

/** Paths are logged only as far as this; they are the caller's text. */
const PATH_MAX = 128;

export function logRefusals(logger: Logger): (refusal: RefusalReport) => void {
  return (refusal) => {
    logger.info(
      {
        request_id: randomUUID(),
        protocol: refusal.protocol,
        status: refusal.status,
        code: `http_${refusal.status}`,
        method: refusal.method,
        path: refusal.path?.slice(0, PATH_MAX),
        duration_ms: Math.round(refusal.durationMs * 1e3) / 1e3,
      },
      "refused",
    );
  };
}
