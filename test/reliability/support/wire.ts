// Raw calls to the Users RPCs on the real port, one function per protocol,
// with the request given as the exact bytes to send. Tests that need to send
// what no well-behaved client would (broken JSON, broken protobuf, broken gRPC
// frames) use these; each answer is reduced to one shape: the HTTP status, the
// Connect/gRPC code name ("ok", "invalid_argument", ...), the message and the
// response headers (with gRPC trailers merged in).
import http from "node:http";
import http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { codeName } from "../../../src/transport/observe-interceptor.js";

export type Protocol = "connect-json" | "connect-binary" | "grpc" | "grpc-web" | "m3o";
export const PROTOCOLS: Protocol[] = ["connect-json", "connect-binary", "grpc", "grpc-web", "m3o"];

export interface WireAnswer {
  httpStatus: number;
  /** "ok", a Connect/gRPC code name, or for answers that carry no code, "http_<status>". */
  code: string;
  message: string;
  headers: Record<string, string>;
  /** The response body with any gRPC framing removed (the message bytes, or the JSON text). */
  body: Buffer;
}

export interface WireRequest {
  /** The RPC, as in the .proto ("Login"). */
  method: string;
  /** Its service's full name; users.v1.Users unless given (the M3O paths serve Users only). */
  service?: string;
  /** Exactly what goes on the wire as the body (for gRPC and gRPC-Web, give the frames: see grpcFrame). */
  body: Buffer;
  headers?: Record<string, string>;
}

/** The M3O JSON API's HTTP statuses and the code each stands for. */
const M3O_CODES: Record<number, string> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  // AlreadyExists; Aborted answers 409 too.
  409: "already_exists",
  413: "resource_exhausted",
  429: "resource_exhausted",
  500: "internal",
  503: "unavailable",
  504: "deadline_exceeded",
};

/** One gRPC length-prefixed message frame. */
export function grpcFrame(message: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** Keeps connections open between calls (one HTTP/1.1 agent, one HTTP/2 session per base URL). */
export class Wire {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private session: http2.ClientHttp2Session | undefined;

  constructor(readonly baseUrl: string) {}

  send(protocol: Protocol, request: WireRequest): Promise<WireAnswer> {
    switch (protocol) {
      case "connect-json":
        return this.connect(request, "application/json");
      case "connect-binary":
        return this.connect(request, "application/proto");
      case "grpc":
        return this.grpc(request);
      case "grpc-web":
        return this.grpcWeb(request);
      case "m3o":
        return this.m3o(request);
    }
  }

  close(): void {
    this.agent.destroy();
    this.session?.destroy();
  }

  private async connect(request: WireRequest, contentType: string): Promise<WireAnswer> {
    const res = await this.h1(`/${request.service ?? "users.v1.Users"}/${request.method}`, request.body, {
      "content-type": contentType,
      ...request.headers,
    });
    if (res.status === 200) return { ...res.base, code: "ok", message: "" };
    const error = parseJson(res.base.body) as { code?: string; message?: string } | undefined;
    return { ...res.base, code: error?.code ?? `http_${res.status}`, message: error?.message ?? "" };
  }

  private async m3o(request: WireRequest): Promise<WireAnswer> {
    const res = await this.h1(`/users/Users/${request.method}`, request.body, {
      "content-type": "application/x-www-form-urlencoded",
      ...request.headers,
    });
    if (res.status === 200) return { ...res.base, code: "ok", message: "" };
    const error = parseJson(res.base.body) as { detail?: string } | undefined;
    return { ...res.base, code: M3O_CODES[res.status] ?? `http_${res.status}`, message: error?.detail ?? "" };
  }

  private async grpcWeb(request: WireRequest): Promise<WireAnswer> {
    const res = await this.h1(`/${request.service ?? "users.v1.Users"}/${request.method}`, request.body, {
      "content-type": "application/grpc-web+proto",
      "x-grpc-web": "1",
      ...request.headers,
    });
    // Frames: data (flag 0) then trailers (flag 0x80) as "name: value\r\n" lines;
    // a trailers-only answer carries the status in the headers instead.
    const headers = { ...res.base.headers };
    const messages: Buffer[] = [];
    let rest = res.base.body;
    while (rest.length >= 5) {
      const flags = rest.readUInt8(0);
      const length = rest.readUInt32BE(1);
      const payload = rest.subarray(5, 5 + length);
      rest = rest.subarray(5 + length);
      if (flags & 0x80) {
        for (const line of payload.toString("utf8").split("\r\n")) {
          const colon = line.indexOf(":");
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
      } else messages.push(payload);
    }
    return { ...grpcOutcome(res.status, headers), body: Buffer.concat(messages) };
  }

  private grpc(request: WireRequest): Promise<WireAnswer> {
    if (!this.session || this.session.closed || this.session.destroyed) {
      this.session = http2.connect(this.baseUrl);
      this.session.on("error", () => undefined);
      this.session.unref();
    }
    const session = this.session;
    return new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": `/${request.service ?? "users.v1.Users"}/${request.method}`,
        "content-type": "application/grpc+proto",
        te: "trailers",
        ...request.headers,
      });
      const headers: Record<string, string> = {};
      let status = 0;
      const chunks: Buffer[] = [];
      const take = (h: http2.IncomingHttpHeaders) => {
        for (const [name, value] of Object.entries(h)) if (typeof value === "string") headers[name] = value;
      };
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        take(h);
      });
      stream.on("trailers", take);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("close", () => {
        if (status === 0) return reject(new Error(`gRPC stream closed without an answer (RST code ${stream.rstCode})`));
        const frames = Buffer.concat(chunks);
        const body = frames.length >= 5 ? frames.subarray(5, 5 + frames.readUInt32BE(1)) : Buffer.alloc(0);
        resolve({ ...grpcOutcome(status, headers), body });
      });
      stream.end(request.body);
    });
  }

  private h1(path: string, body: Buffer, headers: Record<string, string>) {
    return new Promise<{ status: number; base: Omit<WireAnswer, "code" | "message"> }>((resolve, reject) => {
      const req = http.request(
        `${this.baseUrl}${path}`,
        { method: "POST", agent: this.agent, headers: { ...headers, "content-length": String(body.length) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const flat: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
            }
            const status = res.statusCode ?? 0;
            resolve({ status, base: { httpStatus: status, headers: flat, body: Buffer.concat(chunks) } });
          });
        },
      );
      // The server may answer (413) and close before reading everything sent:
      // a write error then is no failure if the answer arrives. Without an
      // answer (the server died), it is.
      let answered = false;
      req.once("response", () => (answered = true));
      req.on("error", (err) => setTimeout(() => answered || reject(err), 50));
      req.end(body);
    });
  }
}

function grpcOutcome(httpStatus: number, headers: Record<string, string>): Omit<WireAnswer, "body"> {
  const status = headers["grpc-status"];
  if (status === undefined) return { httpStatus, code: `http_${httpStatus}`, message: "", headers };
  const code = Number(status);
  return {
    httpStatus,
    code: code === 0 ? "ok" : Code[code] === undefined ? `grpc_${status}` : codeName(code as Code),
    message: decodeURIComponent(headers["grpc-message"] ?? ""),
    headers,
  };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}
