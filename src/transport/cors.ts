// Cross-origin calls from browsers (CORS) for the RPC paths (Connect and
// gRPC-Web) and the M3O JSON paths.
//
// Why it is strict: an API key is sent in the `authorization` header, so any
// page allowed here can make calls with a key it holds. Only the origins listed
// in CORS_ORIGINS are allowed (none by default); every other origin, including
// "null" (sandboxed frames, file: pages), gets no CORS headers at all and the
// browser refuses the call. Credentials (cookies) are never allowed: the
// service does not use them. The header lists come from @connectrpc/connect's
// `cors` helpers, so they follow the protocols as the library evolves.
import { cors as connectCors } from "@connectrpc/connect";
import type { RequestHandler } from "./listener.js";

type Request = Parameters<RequestHandler>[0];
type Response = Parameters<RequestHandler>[1];

/** Request headers a browser may send: Connect's and gRPC-Web's own, plus this API's. */
export const ALLOWED_HEADERS: readonly string[] = unique([
  ...connectCors.allowedHeaders,
  "authorization",
  "micro-namespace",
  "x-request-id",
  "x-session-id",
]);

/** Response headers a browser script may read: Connect's and gRPC-Web's own, plus this API's. */
export const EXPOSED_HEADERS: readonly string[] = unique([
  ...connectCors.exposedHeaders,
  "x-request-id",
  "retry-after",
]);

export const ALLOWED_METHODS: readonly string[] = connectCors.allowedMethods;

/** How long a browser may reuse a preflight answer (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = 7200;

export interface CorsOptions {
  /** Exact origins (scheme://host[:port]) allowed to call; empty allows none. */
  origins: readonly string[];
  /** Which request paths CORS applies to (the RPC and M3O paths); others are left alone. */
  appliesTo(path: string): boolean;
}

/**
 * A `before` hook for the HTTP handler: adds CORS headers to responses for
 * allowed origins and answers preflights itself. Returns true when it has
 * answered (a preflight), false to let the request go on.
 */
export function createCors(options: CorsOptions): (req: Request, res: Response) => boolean {
  const allowed = new Set(options.origins);
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0]!;
    if (!options.appliesTo(path)) return false;
    // Answers differ by Origin, so caches must key on it, whatever the origin.
    appendVary(res, "Origin");
    const origin = headerValue(req, "origin");
    const isAllowed = origin !== undefined && allowed.has(origin);
    const isPreflight = req.method === "OPTIONS" && headerValue(req, "access-control-request-method") !== undefined;

    if (isPreflight) {
      appendVary(res, "Access-Control-Request-Method");
      appendVary(res, "Access-Control-Request-Headers");
      if (isAllowed) {
        res.setHeader("access-control-allow-origin", origin);
        res.setHeader("access-control-allow-methods", ALLOWED_METHODS.join(", "));
        res.setHeader("access-control-allow-headers", ALLOWED_HEADERS.join(", "));
        res.setHeader("access-control-max-age", String(PREFLIGHT_MAX_AGE_SECONDS));
      }
      // An unlisted origin gets an empty answer without CORS headers: the
      // browser then refuses to send the call itself.
      res.writeHead(204, { "content-length": "0" });
      res.end();
      return true;
    }
    if (isAllowed) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", EXPOSED_HEADERS.join(", "));
    }
    return false;
  };
}

/** RPC paths of any gRPC/Connect service: /package.Service/Method. */
export function isRpcPath(path: string): boolean {
  return /^\/[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+\/[A-Za-z_]\w*$/.test(path);
}

function headerValue(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function appendVary(res: Response, field: string): void {
  const current = res.getHeader("vary");
  const fields =
    current === undefined
      ? []
      : String(current)
          .split(",")
          .map((f) => f.trim())
          .filter(Boolean);
  if (!fields.some((f) => f.toLowerCase() === field.toLowerCase())) fields.push(field);
  res.setHeader("vary", fields.join(", "));
}

function unique(names: string[]): string[] {
  return [...new Set(names.map((n) => n.toLowerCase()))];
}
