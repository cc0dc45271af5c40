// gRPC health checking (grpc.health.v1.Health: Check, Watch, List) on the
// same port as everything else, and without an API key: orchestrators probe it.
// The service names it knows: "" (the whole server) and "users.v1.Users".
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { Users } from "../../gen/users/v1/users_pb.js";
import type { HealthMonitor, HealthReport } from "../observability/health.js";
import { UNKEYED_BODY_MAX_BYTES } from "./early-auth.js";

const KNOWN_SERVICES = ["", Users.typeName];

export function registerHealth(router: ConnectRouter, monitor: HealthMonitor, interceptors: Interceptor[]): void {
  const toStatus = (report: HealthReport) => (report.status === "SERVING" ? Status.SERVING : Status.NOT_SERVING);
  router.service(
    Health,
    {
      async check(req) {
        if (!KNOWN_SERVICES.includes(req.service)) {
          throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
        }
        return { status: toStatus(await monitor.check()) };
      },
      async list() {
        const status = toStatus(await monitor.check());
        return { statuses: Object.fromEntries(KNOWN_SERVICES.map((name) => [name, { status }])) };
      },
      async *watch(req, ctx) {
        if (!KNOWN_SERVICES.includes(req.service)) {
          // As the protocol says: an unknown service is reported, not refused.
          yield { status: Status.SERVICE_UNKNOWN };
          await endOrDrain(monitor, ctx);
          return;
        }
        yield* watchStatus(monitor, ctx, toStatus);
      },
    },
    { interceptors, readMaxBytes: UNKEYED_BODY_MAX_BYTES },
  );
}

/** Yields the current status, then each change, until the call ends or the server drains. */
async function* watchStatus(
  monitor: HealthMonitor,
  ctx: HandlerContext,
  toStatus: (report: HealthReport) => Status,
): AsyncGenerator<{ status: Status }> {
  const pending: HealthReport[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = monitor.subscribe((report) => {
    pending.push(report);
    wake?.();
  });
  const onAbort = () => wake?.();
  ctx.signal.addEventListener("abort", onAbort);
  try {
    yield { status: toStatus(monitor.isDraining ? monitor.current() : await monitor.check()) };
    while (!ctx.signal.aborted && !monitor.isDraining) {
      if (pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      for (const report of pending.splice(0)) yield { status: toStatus(report) };
      // A draining server ends its watches after saying so, so it can stop.
      if (monitor.isDraining) return;
    }
  } finally {
    unsubscribe();
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

/** Resolves when the call ends or the server starts draining. */
function endOrDrain(monitor: HealthMonitor, ctx: HandlerContext): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.signal.aborted || monitor.isDraining) return resolve();
    const unsubscribe = monitor.subscribe(() => {
      if (monitor.isDraining) done();
    });
    const done = () => {
      unsubscribe();
      ctx.signal.removeEventListener("abort", done);
      resolve();
    };
    ctx.signal.addEventListener("abort", done, { once: true });
  });
}
