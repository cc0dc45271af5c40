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
// order (run by unary-calls.ts), the same response compression and the same
// error serialization, corrected by correctStatus like every other answer.
// Every other request (GET, a compressed or
// chunked body, connect-timeout-ms, streams, gRPC, gRPC-Web) goes to the
// library as before. test/transport/connect-unary.e2e.test.ts sends the same
// requests down both paths and compares the answers.
import type http from "node:http";
import type http2 from "node:http2";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import { type Compression, compressionNegotiate, createAsyncIterable } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, parseContentType } from "@connectrpc/connect/protocol-connect";
import { universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { type BodyBudget, bodiesBusy } from "./body-budget.js";
import { abandonBody } from "./listener.js";
import { readBody } from "./read-body.js";
import { correctStatus } from "./status-corrections.js";
import { invokeUnary, lazySignal, type UnaryRoute } from "./unary-calls.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** What a request qualifying for this path was found to be, from its headers. */
export interface PlainUnaryCall {
  binary: boolean;
  /** The compression to answer with (the client accepts it), if any. */
  compression: Compression | null;
  length: number;
  url: string;
}

/**
 * The call's shape if this path may serve it, judged on the headers alone
 * (`authority` is the request's, already checked to make a URL);
 * undefined sends it to the library, which then answers exactly as before
 * (including every refusal: a wrong method, an unknown compression, a body
 * over the limit).
 */
export function plainUnaryCall(req: NodeRequest, route: UnaryRoute, authority: string): PlainUnaryCall | undefined {
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
  bodies: BodyBudget,
): Promise<void> {
  // The declared length is taken from the budget before a byte is read; past it, the body is never read.
  if (!bodies.holdFor(req, res).take(call.length)) {
    abandonBody(req);
    return refuse(route, res, bodiesBusy());
  }
  // Node's parser holds the body to its declared length; a client gone before its end rejects (adapter-failure.ts).
  return readBody(req, call.length).then((body) => answer(route, call, req, res, contextValues, body));
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
  const signal = lazySignal(res, route.options.shutdownSignal);
  let status = 200;
  let bytes: Uint8Array;
  try {
    const input = route.serialization.getI(call.binary).parse(body);
    const output = await invokeUnary(route, input, {
      url: call.url,
      header: webHeaders(req.headers),
      contextValues,
      signal,
      responseHeader,
      responseTrailer,
    });
    bytes = route.serialization.getO(call.binary).serialize(output);
  } catch (e) {
    signal.abortWith(e);
    const error =
      e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    status = codeToHttpStatus(error.code);
    bytes = errorBody(route, error, responseHeader);
  }
  if (call.compression && bytes.byteLength >= route.options.compressMinBytes) {
    bytes = await call.compression.compress(bytes);
    responseHeader.set("content-encoding", call.compression.name);
  }
  for (const [key, value] of responseTrailer) responseHeader.set(`trailer-${key}`, value);
  responseHeader.set("content-length", String(bytes.byteLength));
  if (status !== 200) return sendError(res, status, responseHeader, bytes);
  const headers: Record<string, string> = { "cache-control": "no-store" };
  responseHeader.forEach((value, key) => {
    headers[key] = value;
  });
  res.writeHead(200, headers);
  res.end(bytes);
}

/** A call refused before its body was read, answered as the library answers an error. */
function refuse(route: UnaryRoute, res: NodeResponse, error: ConnectError): Promise<void> {
  const header = new Headers();
  const bytes = errorBody(route, error, header);
  header.set("content-length", String(bytes.byteLength));
  return sendError(res, codeToHttpStatus(error.code), header, bytes);
}

/** A Connect unary error answer's body, its type and metadata set on `header`, as the library writes one. */
function errorBody(route: UnaryRoute, error: ConnectError, header: Headers): Uint8Array {
  header.set("content-type", "application/json");
  for (const [key, value] of error.metadata) header.set(key, value);
  return errorToJsonBytes(error, route.options.jsonOptions);
}

/** Errors take the way every other answer takes, to be corrected alike. */
async function sendError(res: NodeResponse, status: number, header: Headers, bytes: Uint8Array): Promise<void> {
  const corrected = await correctStatus(header.get("content-type"), {
    status,
    header,
    body: createAsyncIterable([bytes]),
  });
  await universalResponseToNodeResponse(corrected, res);
}

/** Node's request headers as web Headers (HTTP/2 pseudo-headers left out), as the library makes them. */
function webHeaders(node: http.IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const [name, value] of Object.entries(node)) {
    if (value === undefined || name.startsWith(":")) continue;
    if (Array.isArray(value)) for (const v of value) header.append(name, v);
    else header.append(name, value);
  }
  return header;
}
