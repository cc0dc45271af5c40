// The HTTP front: sends each request to what serves its path. RPC paths
// (/users.v1.Users/..., gRPC, gRPC-Web and Connect alike) go to the Connect
// adapter; the M3O paths to the M3O adapter; a few plain HTTP endpoints
// (health, metrics, console) are matched by exact path or prefix.
import type { RequestHandler } from "./listener.js";

export interface Route {
  /** Exact path ("/healthz") or, ending in "/", a prefix ("/console/"). */
  path: string;
  handle: RequestHandler;
}

export interface HttpHandlerParts {
  /** Serves every RPC path; answers 404 for unknown paths. */
  rpc: RequestHandler;
  m3o: { matches(path: string): boolean; handle: RequestHandler };
  routes: Route[];
  /** Runs first for every request; returns true when it has answered (e.g. a CORS preflight). */
  before?: (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => boolean;
}

export function createHttpHandler(parts: HttpHandlerParts): RequestHandler {
  const exact = new Map(parts.routes.filter((r) => !r.path.endsWith("/")).map((r) => [r.path, r.handle]));
  const prefixes = parts.routes.filter((r) => r.path.endsWith("/"));
  return (req, res) => {
    if (parts.before?.(req, res)) return;
    const path = (req.url ?? "/").split("?", 1)[0]!;
    const route =
      exact.get(path) ?? prefixes.find((r) => path.startsWith(r.path) || path === r.path.slice(0, -1))?.handle;
    if (route) return route(req, res);
    if (parts.m3o.matches(path)) return parts.m3o.handle(req, res);
    return parts.rpc(req, res);
  };
}
