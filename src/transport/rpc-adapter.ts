// Serves the Connect router (gRPC, gRPC-Web and Connect) on Node requests,
// as connectNodeAdapter does, with one step between the router's answer and
// the wire: correctStatus (status-corrections.ts) fixes the few statuses the
// library gets wrong for our callers.
import { createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { RequestHandler } from "./listener.js";
import { correctStatus } from "./status-corrections.js";

export interface RpcHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
}

export function createRpcHandler(options: RpcHandlerOptions): RequestHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const paths = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 1)[0]!);
    if (!handler) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    const uReq = universalRequestFromNodeRequest(req, res, undefined, undefined);
    handler(uReq)
      .then((uRes) => correctStatus(uReq.header.get("content-type"), uRes))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      // Only a connection that broke mid-answer lands here; the caller is gone.
      .catch(() => res.destroy());
  };
}
