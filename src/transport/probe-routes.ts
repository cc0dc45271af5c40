// Plain HTTP endpoints for load balancers and Prometheus; no API key needed:
//   GET /healthz  200 while the process is alive
//   GET /readyz   200 when the database answers (migrations applied) and the
//                 server is not draining; 503 with the reason otherwise
//   GET /metrics  Prometheus text format
import type { HealthMonitor } from "../observability/health.js";
import type { Metrics } from "../observability/metrics.js";
import type { Route } from "./http-handler.js";
import type { RequestHandler } from "./listener.js";

type Res = Parameters<RequestHandler>[1];

export function probeRoutes(health: HealthMonitor, metrics: Metrics): Route[] {
  return [
    { path: "/healthz", handle: getOnly((_req, res) => send(res, 200, "application/json", '{"status":"alive"}')) },
    {
      path: "/readyz",
      handle: getOnly(async (_req, res) => {
        const report = await health.check();
        const ready = report.status === "SERVING";
        send(
          res,
          ready ? 200 : 503,
          "application/json",
          JSON.stringify(ready ? { status: "ready" } : { status: "not ready", reason: report.reason }),
        );
      }),
    },
    {
      path: "/metrics",
      handle: getOnly(async (_req, res) => send(res, 200, metrics.contentType, await metrics.text())),
    },
  ];
}

function getOnly(handle: (...args: Parameters<RequestHandler>) => void | Promise<void>): RequestHandler {
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, "text/plain", "use GET\n");
    }
    Promise.resolve(handle(req, res)).catch(() => {
      if (!res.headersSent) send(res, 500, "text/plain", "internal error\n");
    });
  };
}

function send(res: Res, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}
