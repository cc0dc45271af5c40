// The M3O-compatible JSON API: POST /users/Users/<Method> (as the M3O docs
// show) and POST /v1/users/<Method> (as M3O's JS client calls it).
//
// It accepts the documented curl exactly as written: `curl -d '{...}'` sends a
// form content type, so the body is read as JSON whatever the content type
// says. The request is then forwarded, in process, to the same Connect handler
// that serves /users.v1.Users/<Method>, so authentication, validation, logging
// and metrics are the very same code. Answers use the documented field names
// (session_id), int64 timestamps as JSON numbers, and M3O's error shape:
//   {"id":"users.Login","code":401,"detail":"invalid credentials","status":"Unauthorized"}
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { create, type DescMessage, fromJson, type JsonObject, type JsonValue, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, createConnectRouter } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "../observability/logger.js";
import type { KeysService } from "../service/keys.js";
import { logAdapterFailure } from "./adapter-failure.js";
import type { BodyBudget } from "./body-budget.js";
import { m3oCallKey } from "./call-context.js";
import { checkKey, keyCheckValues } from "./early-auth.js";
import {
  type DecodeProblem,
  isInt64,
  jsonDecodeProblem,
  nonDecimalInteger,
  notValidJson,
} from "./json-decode-errors.js";
import { abandonBody } from "./listener.js";
import { BodyTooLarge, readBody } from "./read-body.js";
import { invokeUnary, lazySignal, recordingUnaryRoutes, type UnaryRoute } from "./unary-calls.js";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/** Request headers passed on to the Connect handler; every other header is dropped. */
const FORWARDED_HEADERS = ["authorization", "micro-namespace", "x-request-id", "x-session-id"];
const M3O_PATH = /^\/(?:users\/Users|v1\/users)\/([A-Za-z]+)$/;

export interface M3oOptions {
  routes: (router: ConnectRouter) => void;
  maxBodyBytes: number;
  /** For the check of the API key before the body is read (early-auth.ts). */
  keys: KeysService;
  /** Where a failure that made no answer is reported (adapter-failure.ts). */
  logger: Logger;
  /** Request bodies held at once, all calls together (body-budget.ts). */
  bodies: BodyBudget;
}

export type M3oHandler = (req: NodeRequest, res: NodeResponse) => void;

export function isM3oPath(path: string): boolean {
  return M3O_PATH.test(path);
}

export function createM3oHandler(options: M3oOptions): M3oHandler {
  // Each service brings its own interceptors in its route options, so these
  // calls run exactly the interceptors of the Connect paths.
  const routes = new Map<string, UnaryRoute>();
  options.routes(recordingUnaryRoutes(createConnectRouter(), {}, routes));
  const methods = new Map<string, UnaryRoute>();
  for (const route of routes.values()) {
    if (route.service.typeName === "users.v1.Users") methods.set(route.method.name, route);
  }

  return (req, res) => {
    const name = M3O_PATH.exec((req.url ?? "").split("?", 1)[0]!)?.[1] ?? "";
    // Exact names only ("Login", never "login"): a proxy rule written for the
    // documented path must not be bypassed by another spelling of it.
    const route = methods.get(name);
    const id = `users.${route?.method.name ?? name}`;
    if (!route) return sendError(res, id, 404, `unknown method "${name}"`);
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return sendError(res, id, 405, "use POST");
    }
    forward(route, req, res, options).catch((err: unknown) => {
      logAdapterFailure(options.logger, "m3o", req, err);
      if (res.headersSent) return void res.destroy();
      try {
        sendError(res, id, 500, "internal error");
      } catch {
        res.destroy();
      }
    });
  };
}

async function forward(route: UnaryRoute, req: NodeRequest, res: NodeResponse, options: M3oOptions) {
  const { method } = route;
  const id = `users.${method.name}`;
  const check = await checkKey(options.keys, req.headers.authorization);
  // Without a live key, or when the key could not be checked (the database
  // did not answer), the body is never read: an empty message goes on, and
  // the call is refused unread, with that error, as on the Connect paths.
  const refused = "failure" in check || check.key === null;
  if (refused) abandonBody(req);
  let input: ReturnType<typeof create>;
  try {
    input = refused
      ? create(method.input)
      : parseInput(method.input, await readBody(req, options.maxBodyBytes, options.bodies.holdFor(req, res)));
  } catch (err) {
    if (err instanceof BodyTooLarge) return sendError(res, id, 413, err.message);
    if (err instanceof BadInput) return sendError(res, id, 400, err.message);
    if (err instanceof ConnectError && err.code === Code.ResourceExhausted) {
      // The server holds too many bodies (body-budget.ts): as a 429 with its retry-after.
      const retryAfter = err.metadata.get("retry-after");
      if (retryAfter) res.setHeader("retry-after", retryAfter);
      return sendError(res, id, 429, err.rawMessage);
    }
    throw err;
  }

  const header = new Headers({ "content-type": "application/proto", "connect-protocol-version": "1" });
  for (const name of FORWARDED_HEADERS) {
    const value = req.headers[name];
    if (typeof value === "string") header.set(name, value);
  }
  const responseHeader = new Headers();
  // Only a caller gone before the answer was sent cancels the call.
  const signal = lazySignal(res, undefined);
  let output: ReturnType<typeof create>;
  try {
    output = await invokeUnary(route, input, {
      url: `http://m3o.local/${route.service.typeName}/${method.name}`,
      header,
      contextValues: keyCheckValues(check).set(m3oCallKey, true),
      signal,
      responseHeader,
      responseTrailer: new Headers(),
    });
  } catch (err) {
    signal.abortWith(err);
    // As the Connect paths answer it: the code's HTTP status and the error's own message.
    const error = err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal);
    const requestId = error.metadata.get("x-request-id");
    if (requestId) res.setHeader("x-request-id", requestId);
    const retryAfter = error.metadata.get("retry-after");
    if (retryAfter) res.setHeader("retry-after", retryAfter);
    const status = codeToHttpStatus(error.code);
    return sendError(res, id, status, error.rawMessage || (STATUS_CODES[status] ?? "error"));
  }
  const requestId = responseHeader.get("x-request-id");
  if (requestId) res.setHeader("x-request-id", requestId);
  return sendJson(
    res,
    200,
    m3oJson(method.output, toJson(method.output, output, { useProtoFieldName: true, alwaysEmitImplicit: true })),
  );
}

/** Parses the body as JSON (any content type) into the request message; both field-name forms are accepted. */
function parseInput(schema: DescMessage, body: Buffer) {
  const text = body.toString("utf8").trim();
  let json: JsonValue;
  try {
    json = text === "" ? {} : (JSON.parse(text) as JsonValue);
  } catch (err) {
    throw new BadInput(notValidJson((err as Error).message));
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new BadInput({ rule: "request body: must be a JSON object" });
  }
  const notDecimal = nonDecimalInteger(schema, json);
  if (notDecimal) throw new BadInput(notDecimal);
  try {
    return fromJson(schema, json, { ignoreUnknownFields: true });
  } catch (err) {
    throw new BadInput(
      jsonDecodeProblem((err as Error).message, (name) => (name === schema.typeName ? schema : undefined)),
    );
  }
}

/** A body that is not the request's JSON: said as "field: rule", never quoting it. */
class BadInput extends Error {
  constructor(problem: DecodeProblem) {
    super(problem.field === undefined ? problem.rule : `${problem.field}: ${problem.rule}`);
  }
}

/** Rewrites int64 fields from JSON strings (proto3 JSON) to numbers, as the M3O docs show them. */
function m3oJson(schema: DescMessage, json: JsonValue): JsonObject {
  const object = json as JsonObject;
  for (const field of schema.fields) {
    const value = object[field.name];
    if (value === undefined || value === null) continue;
    if (field.fieldKind === "scalar" && isInt64(field.scalar)) object[field.name] = Number(value);
    else if (field.fieldKind === "message") m3oJson(field.message, value);
    else if (field.fieldKind === "list" && field.listKind === "message") {
      for (const item of value as JsonValue[]) m3oJson(field.message, item);
    } else if (field.fieldKind === "list" && field.listKind === "scalar" && isInt64(field.scalar)) {
      object[field.name] = (value as JsonValue[]).map(Number);
    }
  }
  return object;
}

function sendError(res: NodeResponse, id: string, status: number, detail: string): void {
  sendJson(res, status, { id, code: status, detail, status: STATUS_CODES[status] ?? "Error" });
}

function sendJson(res: NodeResponse, status: number, body: JsonValue): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    // Answers may carry a session id (Login, ReadSession): no cache may keep one.
    "cache-control": "no-store",
  });
  res.end(text);
}
