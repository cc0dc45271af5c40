// Connect unary calls served without the library's universal adapter.
//
// Why: @connectrpc/connect-node serves each call through a universal request
// (web Headers rebuilt from Node's, three AbortControllers linked to one
// another, the body as an async iterable) and aborts the call's signals once
// it has answered. An abort without a reason makes a DOMException, which
// captures a stack trace: two of them per call cost about as much event loop
// as everything our service does for a ReadSession. For the shape almost
// every Connect call has (POST, unary, a declared Content-Length, no request
// compression, no deadline header) this module does what the library's
// Connect handler does, with the library's own pieces: the same
// serialization (size limits included), the same interceptors in the same
// order, the same response compression and the same error serialization,
// corrected by correctStatus like every other answer. A signal is made only
// if a handler asks for one. Every other request (GET, a compressed or
// chunked body, connect-timeout-ms, streams, gRPC, gRPC-Web) goes to the
// library as before. test/transport/connect-unary.e2e.test.ts sends the same
// requests down both paths and compares the answers.
import type http from "node:http";
import http2 from "node:http2";
import { create, type DescMessage, type DescMethodUnary, type DescService, isMessage } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createAsyncIterable,
  createLinkedAbortController,
  createMethodSerializationLookup,
  type MethodSerializationLookup,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, parseContentType } from "@connectrpc/connect/protocol-connect";
import { universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { correctStatus } from "./status-corrections.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;
type UnaryImpl = (message: unknown, context: HandlerContext) => unknown;
type HandlerOptions = ReturnType<typeof validateUniversalHandlerOptions>;

/** One unary RPC as the library's router registered it. */
export interface UnaryRoute {
  service: DescService;
  method: DescMethodUnary;
  impl: UnaryImpl;
  interceptors: Interceptor[];
  serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  options: HandlerOptions;
}

/** What a request qualifying for this path was found to be, from its headers. */
export interface PlainUnaryCall {
  binary: boolean;
  /** The compression to answer with (the client accepts it), if any. */
  compression: Compression | null;
  length: number;
  url: string;
}

/**
 * A router that registers on `router` as usual and also records each unary
 * RPC with the options the library would serve it with (the router's,
 * overridden by the service's).
 */
export function recordingUnaryRoutes(
  router: ConnectRouter,
  routerOptions: ConnectRouterOptions,
  into: Map<string, UnaryRoute>,
): ConnectRouter {
  const recorder: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(desc, implementation, serviceOptions) {
      router.service(desc, implementation, serviceOptions);
      const options = validateUniversalHandlerOptions({ ...routerOptions, ...serviceOptions });
      const spec = createServiceImplSpec(desc, implementation);
      for (const method of desc.methods) {
        if (method.methodKind !== "unary") continue;
        into.set(`/${desc.typeName}/${method.name}`, {
          service: desc,
          method: method as DescMethodUnary,
          impl: spec.methods[method.localName]!.impl as UnaryImpl,
          interceptors: options.interceptors,
          serialization: createMethodSerializationLookup(method, options.binaryOptions, options.jsonOptions, options),
          options,
        });
      }
      return recorder;
    },
    rpc(method, impl, methodOptions) {
      // Not used by this service; registered RPCs of this kind stay on the library's path.
      router.rpc(method, impl, methodOptions);
      return recorder;
    },
  };
  return recorder;
}

/**
 * The call's shape if this path may serve it, judged on the headers alone;
 * undefined sends it to the library, which then answers exactly as before
 * (including every refusal: a wrong method, an unknown compression, a body
 * over the limit).
 */
export function plainUnaryCall(req: NodeRequest, route: UnaryRoute): PlainUnaryCall | undefined {
  if (req.method !== "POST") return undefined;
  const h = req.headers;
  const type = parseContentType(h["content-type"] ?? null);
  if (!type || type.stream) return undefined;
  if (h["connect-timeout-ms"] !== undefined) return undefined;
  if (route.options.requireConnectProtocolHeader) return undefined;
  const encoding = h["content-encoding"];
  if (encoding !== undefined && encoding !== "identity") return undefined;
  const declared = h["content-length"];
  if (declared === undefined || !/^\d{1,10}$/.test(declared)) return undefined;
  const length = Number(declared);
  if (length > route.options.readMaxBytes) return undefined;
  const accepted = h["accept-encoding"];
  const negotiated = compressionNegotiate(
    route.options.acceptCompression,
    null,
    accepted === undefined ? null : accepted,
    "Accept-Encoding",
  );
  if (negotiated.error) return undefined;
  const authority = req instanceof http2.Http2ServerRequest ? req.authority : h.host;
  if (!authority) return undefined;
  const encrypted = "encrypted" in req.socket && req.socket.encrypted;
  const url = `${encrypted ? "https" : "http"}://${authority}${req.url ?? ""}`;
  return { binary: type.binary, compression: negotiated.response, length, url };
}

/** Reads the body (its length is declared and within the limit), then answers the call. */
export function serveUnary(
  route: UnaryRoute,
  call: PlainUnaryCall,
  req: NodeRequest,
  res: NodeResponse,
  contextValues: ContextValues,
): Promise<void> {
  return readDeclared(req, call.length).then((body) =>
    body === undefined ? undefined : answer(route, call, req, res, contextValues, body),
  );
}

/** The whole body, or undefined if the request ended early (the client went away). */
function readDeclared(req: NodeRequest, length: number): Promise<Buffer | undefined> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      chunks.push(chunk);
    };
    const settle = (body: Buffer | undefined) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      resolve(body);
    };
    const onEnd = () =>
      settle(size === length ? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) : undefined);
    const onClose = () => settle(undefined);
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("close", onClose);
  });
}

async function answer(
  route: UnaryRoute,
  call: PlainUnaryCall,
  req: NodeRequest,
  res: NodeResponse,
  contextValues: ContextValues,
  body: Buffer,
): Promise<void> {
  const responseHeader = new Headers({ "content-type": call.binary ? "application/proto" : "application/json" });
  const responseTrailer = new Headers();
  const signal = lazySignal(req, res, route.options.shutdownSignal);
  let status = 200;
  let bytes: Uint8Array;
  try {
    const input = route.serialization.getI(call.binary).parse(body);
    const request = unaryRequest(route, call, req, input, signal, contextValues);
    const context = handlerContext(route, call, request, responseHeader, responseTrailer);
    const invoke = async (r: UnaryRequest): Promise<UnaryResponse> => {
      const output = await route.impl(r.message, {
        ...context,
        service: r.service,
        requestHeader: r.header,
        values: r.contextValues,
        get signal() {
          return r.signal;
        },
      });
      return {
        stream: false,
        service: route.service,
        method: route.method,
        header: responseHeader,
        trailer: responseTrailer,
        message: normalize(route.method.output, output),
      };
    };
    let next = invoke as (r: UnaryRequest) => Promise<UnaryResponse>;
    for (let i = route.interceptors.length - 1; i >= 0; i--) {
      next = route.interceptors[i]!(next as never) as unknown as typeof next;
    }
    const response = await next(request);
    copyInto(response.header, responseHeader);
    copyInto(response.trailer, responseTrailer);
    bytes = route.serialization.getO(call.binary).serialize(response.message);
  } catch (e) {
    signal.abortWith(e);
    const error =
      e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    status = codeToHttpStatus(error.code);
    responseHeader.set("content-type", "application/json");
    for (const [key, value] of error.metadata) responseHeader.set(key, value);
    bytes = errorToJsonBytes(error, route.options.jsonOptions);
  }
  if (call.compression && bytes.byteLength >= route.options.compressMinBytes) {
    bytes = await call.compression.compress(bytes);
    responseHeader.set("content-encoding", call.compression.name);
  }
  for (const [key, value] of responseTrailer) responseHeader.set(`trailer-${key}`, value);
  responseHeader.set("content-length", String(bytes.byteLength));
  if (status !== 200) {
    // Errors take the way every other answer takes, to be corrected alike.
    const corrected = await correctStatus(responseHeader.get("content-type"), {
      status,
      header: responseHeader,
      body: createAsyncIterable([bytes]),
    });
    await universalResponseToNodeResponse(corrected, res);
    return;
  }
  const headers: Record<string, string> = { "cache-control": "no-store" };
  responseHeader.forEach((value, key) => {
    headers[key] = value;
  });
  res.writeHead(200, headers);
  res.end(bytes);
}

function unaryRequest(
  route: UnaryRoute,
  call: PlainUnaryCall,
  req: NodeRequest,
  message: unknown,
  signal: LazySignal,
  contextValues: ContextValues,
): UnaryRequest {
  const header = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":")) continue;
    if (Array.isArray(value)) for (const v of value) header.append(name, v);
    else header.append(name, value);
  }
  return {
    stream: false,
    service: route.service,
    method: route.method,
    requestMethod: "POST",
    url: call.url,
    header,
    contextValues,
    message: message as never,
    get signal() {
      return signal.signal;
    },
  };
}

function handlerContext(
  route: UnaryRoute,
  call: PlainUnaryCall,
  request: UnaryRequest,
  responseHeader: Headers,
  responseTrailer: Headers,
): Omit<HandlerContext, "signal"> {
  return {
    method: route.method,
    service: route.service,
    timeoutMs: () => undefined,
    requestMethod: "POST",
    requestHeader: request.header,
    responseHeader,
    responseTrailer,
    protocolName: "connect",
    values: request.contextValues,
    url: call.url,
  };
}

interface LazySignal {
  readonly signal: AbortSignal;
  abortWith(reason: unknown): void;
}

/**
 * The call's AbortSignal, made on first use: aborted when the client goes
 * away before the answer, when the server shuts down, or when the call
 * fails, as the library's would be. A call whose handler never asks for it
 * (most) makes none.
 */
function lazySignal(req: NodeRequest, res: NodeResponse, shutdown: AbortSignal | undefined): LazySignal {
  let controller: AbortController | undefined;
  const make = () => {
    const made = createLinkedAbortController(shutdown);
    const onClose = () => {
      if (!res.writableFinished) made.abort(new ConnectError("the client went away", Code.Canceled));
    };
    res.once("close", onClose);
    req.once("error", onClose);
    return made;
  };
  return {
    get signal() {
      controller ??= make();
      return controller.signal;
    },
    abortWith(reason) {
      controller?.abort(reason);
    },
  };
}

function normalize(schema: DescMessage, output: unknown) {
  return isMessage(output, schema) ? output : create(schema, output as never);
}

function copyInto(from: Headers, to: Headers): void {
  if (from === to) return;
  for (const key of [...to.keys()]) to.delete(key);
  for (const [key, value] of from) to.set(key, value);
}
