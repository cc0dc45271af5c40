// Serves the Connect router (gRPC, gRPC-Web and Connect) on Node requests,
// as connectNodeAdapter does, with one step between the router's answer and
// the wire: correctStatus (status-corrections.ts) fixes the few statuses the
// library gets wrong for our callers. Plain Connect unary calls with a live
// key take a shorter way to the same handlers (connect-unary.ts).
import http2 from "node:http2";
import {
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  createConnectRouter,
  createContextValues,
} from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { Logger } from "../observability/logger.js";
import type { KeysService } from "../service/keys.js";
import { logAdapterFailure } from "./adapter-failure.js";
import { type BodyBudget, budgeted } from "./body-budget.js";
import { plainUnaryCall, serveUnary } from "./connect-unary.js";
import { checkKey, emptyRequestBody, type KeyCheck, keyCheckValues } from "./early-auth.js";
import { abandonBody, type RequestHandler } from "./listener.js";
import { oneChunk } from "./read-body.js";
import { correctStatus } from "./status-corrections.js";
import { recordingUnaryRoutes, type UnaryRoute } from "./unary-calls.js";

export interface RpcHandlerOptions extends ConnectRouterOptions {
  /** Request bodies held at once, all calls together (body-budget.ts). */
  bodies: BodyBudget;
  routes: (router: ConnectRouter) => void;
  /** Services whose calls need an API key: checked on the headers before the body is read (early-auth.ts). */
  keyed?: { keys: KeysService; services: string[] };
  /** Where a failure that made no answer is reported (adapter-failure.ts). */
  logger: Logger;
}

export function createRpcHandler(options: RpcHandlerOptions): RequestHandler {
  const routerOptions = { acceptCompression: [compressionGzip, compressionBrotli], ...options };
  const router = createConnectRouter(routerOptions);
  const unary = new Map<string, UnaryRoute>();
  options.routes(recordingUnaryRoutes(router, routerOptions, unary));
  const paths = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  const keyed = new Set(options.keyed?.services);
  return (req, res) => {
    // Connect needs the request's authority, as a URL's host (HTTP/1.0 may omit
    // Host, and Node lets an empty or malformed one through); without one the
    // library throws instead of answering.
    const authority = req instanceof http2.Http2ServerRequest ? req.authority : req.headers.host;
    if (authority === undefined || !validAuthority(authority)) {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("missing or malformed Host header\n");
      return;
    }
    const handler = paths.get((req.url ?? "").split("?", 1)[0]!);
    if (!handler) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    const keys = keyed.has(handler.service.typeName) ? options.keyed?.keys : undefined;
    const route = unary.get(handler.requestPath);
    const plain = route && plainUnaryCall(req, route, authority);
    const check = keys ? checkKey(keys, req.headers.authorization) : Promise.resolve(undefined);
    check
      .then((found) => {
        // A plain unary call with a live key (or needing none) takes the short way (connect-unary.ts).
        const live = found === undefined || ("key" in found && found.key !== null);
        if (route && plain && live) {
          const values = found ? keyCheckValues(found) : createContextValues();
          return serveUnary(route, plain, req, res, values, options.bodies);
        }
        return library(found ? keyedRequest(req, res, found) : nodeRequest(req, res, undefined));
      })
      .catch((err: unknown) => {
        logAdapterFailure(options.logger, "rpc", req, err);
        res.destroy();
      });

    function library(given: UniversalServerRequest): Promise<void> {
      // A unary or server-streaming call's one message is held whole before its handler runs: it counts against the
      // budget. (Client streams are consumed message by message; no service with a key takes one.)
      const single = handler!.method.methodKind === "unary" || handler!.method.methodKind === "server_streaming";
      const body = given.body;
      const uReq =
        single && typeof body === "object" && body !== null && Symbol.asyncIterator in body
          ? { ...given, body: budgeted(body as AsyncIterable<Uint8Array>, options.bodies.holdFor(req, res)) }
          : given;
      return handler!(uReq)
        .then((uRes) => correctStatus(uReq.header.get("content-type"), uRes))
        .then((uRes) => {
          // Answered before its body was read to the end (over the size limit,
          // or a declared length already too large): what happens to the rest
          // (and to the connection) is decided before the answer goes out.
          if (!req.complete) abandonBody(req);
          return universalResponseToNodeResponse(uRes, res);
        });
    }
  };
}

/**
 * The request as Connect sees it: with the live key found from its headers,
 * or, without one (or when the check could not be made), an empty message in
 * place of the body it never reads; the auth interceptor then refuses it.
 */
function keyedRequest(
  req: Parameters<RequestHandler>[0],
  res: Parameters<RequestHandler>[1],
  check: KeyCheck,
): UniversalServerRequest {
  const uReq = nodeRequest(req, res, keyCheckValues(check));
  const refused = "failure" in check || check.key === null;
  const empty = refused ? emptyRequestBody(uReq.header.get("content-type")) : undefined;
  if (empty === undefined) return uReq;
  abandonBody(req);
  uReq.header.delete("content-encoding");
  uReq.header.delete("grpc-encoding");
  uReq.header.delete("content-length");
  return { ...uReq, body: oneChunk(empty) };
}

/**
 * The library's universal request, except that on HTTP/1.1 a body Connect
 * stops reading early (a message over the size limit) is left undestroyed:
 * destroying an unfinished request loses the rest of its body, so the
 * connection could not go on to its next request. The listener throws the
 * rest away instead (abandonBody).
 */
function nodeRequest(
  req: Parameters<RequestHandler>[0],
  res: Parameters<RequestHandler>[1],
  contextValues: ContextValues | undefined,
): UniversalServerRequest {
  const uReq = universalRequestFromNodeRequest(req, res, undefined, contextValues);
  if (req instanceof http2.Http2ServerRequest) return uReq;
  return { ...uReq, body: req.iterator({ destroyOnReturn: false }) };
}

/** A Host (or :authority) a URL can be made of: what the library's adapter builds every request's URL from. */
function validAuthority(authority: string): boolean {
  if (authority === "") return false;
  try {
    new URL(`http://${authority}/`);
    return true;
  } catch {
    return false;
  }
}
