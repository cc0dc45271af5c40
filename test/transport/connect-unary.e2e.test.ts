// Plain Connect unary calls take a shorter way to the handlers than the
// library's adapter (src/transport/connect-unary.ts). Every request here is
// sent twice over real sockets: with a declared Content-Length (the short
// way) and chunked (the library's way, which never takes a chunked body), and
// the two answers must be the same: status, headers and bytes. Read-only calls
// are compared on success and failure; calls that write are compared on
// inputs they refuse before writing.
import http from "node:http";
import http2 from "node:http2";
import { validateUniversalHandlerOptions } from "@connectrpc/connect/protocol";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { plainUnaryCall } from "../../src/transport/connect-unary.js";
import type { UnaryRoute } from "../../src/transport/unary-calls.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Headers that say how this one answer travelled, not what it is. */
const TRANSPORT_HEADERS = new Set(["date", "connection", "keep-alive", "transfer-encoding"]);

function comparable(answer: Answer): Answer {
  const headers: Answer["headers"] = {};
  for (const name of Object.keys(answer.headers).sort()) {
    if (!TRANSPORT_HEADERS.has(name)) headers[name] = answer.headers[name];
  }
  return { ...answer, headers };
}

describe.each(ENGINES)("Connect unary calls, short way and library way alike (%s)", (engine) => {
  let t: TestServer;
  let agent: http.Agent;
  let port: number;
  let publicKey: string;
  let userId = "";
  let sessionId = "";
  let seq = 0;

  beforeAll(async () => {
    t = await startTestServer({ engine });
    port = Number(new URL(t.url).port);
    agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    publicKey = (await t.server.keys.create("default", "web app", "public")).key;
    for (let i = 0; i < 40; i++) {
      const made = await call("Create", {
        username: `diff${i}`,
        email: `diff${i}@example.com`,
        password: "password-1",
      });
      expect(made.status).toBe(200);
      if (i === 0) userId = (JSON.parse(text(made)) as { user: { id: string } }).user.id;
    }
    const login = await call("Login", { username: "diff0", password: "password-1" });
    sessionId = (JSON.parse(text(login)) as { session: { id: string } }).session.id;
  });
  afterAll(async () => {
    agent.destroy();
    await t.close();
  });

  function call(method: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    return send(method, Buffer.from(JSON.stringify(body)), { "content-type": "application/json", ...headers }, true);
  }

  function send(
    method: string,
    body: Buffer,
    headers: Record<string, string>,
    declared: boolean,
    key: string | null = t.adminKey,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          agent,
          method: "POST",
          path: `/users.v1.Users/${method}`,
          headers: {
            ...(key ? { authorization: `Bearer ${key}` } : {}),
            ...(declared ? { "content-length": String(body.length) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("base64"),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      if (declared) req.end(body);
      else {
        // No Content-Length: Node sends the body chunked.
        req.write(body.subarray(0, Math.floor(body.length / 2)));
        req.end(body.subarray(Math.floor(body.length / 2)));
      }
    });
  }

  /** The same request both ways, with the same request id; both answers. */
  async function bothWays(
    method: string,
    body: Buffer,
    headers: Record<string, string>,
    key: string | null = t.adminKey,
  ): Promise<[Answer, Answer]> {
    const id = `diff-${++seq}`;
    const short = await send(method, body, { ...headers, "x-request-id": id }, true, key);
    const library = await send(method, body, { ...headers, "x-request-id": id }, false, key);
    return [comparable(short), comparable(library)];
  }

  const json = { "content-type": "application/json" };
  const cases: Array<[string, string, () => Buffer, Record<string, string>, ("admin" | "public" | "none")?]> = [
    ["Read by id", "Read", () => Buffer.from(JSON.stringify({ id: userId })), json],
    ["Read, unknown id", "Read", () => Buffer.from('{"id":"nobody"}'), json],
    ["ReadSession", "ReadSession", () => Buffer.from(JSON.stringify({ sessionId })), json],
    ["ReadSession, unknown", "ReadSession", () => Buffer.from('{"sessionId":"nope"}'), json],
    ["Search", "Search", () => Buffer.from('{"username":"diff1","limit":5}'), json],
    [
      "List, large enough to compress",
      "List",
      () => Buffer.from('{"pageSize":40}'),
      { ...json, "accept-encoding": "gzip" },
    ],
    ["List, brotli accepted", "List", () => Buffer.from('{"pageSize":40}'), { ...json, "accept-encoding": "br" }],
    ["List, unknown encoding accepted only", "List", () => Buffer.from("{}"), { ...json, "accept-encoding": "zstd" }],
    [
      "charset in the content type",
      "Read",
      () => Buffer.from(JSON.stringify({ id: userId })),
      { "content-type": "application/json; charset=utf-8" },
    ],
    [
      "protocol version header",
      "Read",
      () => Buffer.from(JSON.stringify({ id: userId })),
      { ...json, "connect-protocol-version": "1" },
    ],
    [
      "binary Read",
      "Read",
      () => Buffer.from([0x0a, userId.length, ...Buffer.from(userId)]),
      { "content-type": "application/proto" },
    ],
    [
      "binary, not protobuf",
      "Read",
      () => Buffer.from([0x0a, 0xff, 0x01, 0x41]),
      { "content-type": "application/proto" },
    ],
    ["empty body", "Read", () => Buffer.alloc(0), json],
    ["not JSON", "Read", () => Buffer.from("{"), json],
    ["a JSON array", "Read", () => Buffer.from("[]"), json],
    ["unknown field", "Read", () => Buffer.from('{"nope":1}'), json],
    ["wrong type", "Read", () => Buffer.from('{"id":5}'), json],
    ["a password in a wrong type", "Login", () => Buffer.from('{"username":"diff0","password":12345678}'), json],
    [
      "Create refused by validation",
      "Create",
      () => Buffer.from('{"username":"x","email":"not-an-email","password":"p"}'),
      json,
    ],
    ["Update of an unknown user", "Update", () => Buffer.from('{"id":"nobody","username":"zz"}'), json],
    ["a public key calling an admin RPC", "List", () => Buffer.from("{}"), json, "public"],
    ["no key", "Read", () => Buffer.from(JSON.stringify({ id: userId })), json, "none"],
    ["text/plain is not Connect", "Read", () => Buffer.from("{}"), { "content-type": "text/plain" }],
  ];

  test.each(cases)("%s", async (_name, method, body, headers, who = "admin") => {
    const key = who === "admin" ? t.adminKey : who === "public" ? publicKey : null;
    const [short, library] = await bothWays(method, body(), headers, key);
    expect(short).toEqual(library);
  });

  test("a compressed answer really is compressed, and a small one is not", async () => {
    const [big] = await bothWays("List", Buffer.from('{"pageSize":40}'), { ...json, "accept-encoding": "gzip" });
    expect(big.headers["content-encoding"]).toBe("gzip");
    const [small] = await bothWays("Read", Buffer.from(JSON.stringify({ id: userId })), {
      ...json,
      "accept-encoding": "gzip",
    });
    expect(small.headers["content-encoding"]).toBeUndefined();
  });

  test("any JSON body: the same answer both ways", async () => {
    const methods = fc.constantFrom(
      "Read",
      "ReadSession",
      "Search",
      "List",
      "ListSessions",
      "Login",
      "Update",
      "Delete",
    );
    const bodies = fc.oneof(
      fc.json().map((text) => Buffer.from(text)),
      fc
        .record(
          {
            id: fc.oneof(fc.constant(userId), fc.string()),
            username: fc.oneof(fc.constant("diff1"), fc.string()),
            email: fc.string(),
            sessionId: fc.oneof(fc.constant(sessionId), fc.string()),
            limit: fc.oneof(fc.integer(), fc.string()),
            offset: fc.integer({ min: -5, max: 20_000 }),
            pageSize: fc.integer({ min: -1, max: 1000 }),
            password: fc.constant(1),
          },
          { requiredKeys: [] },
        )
        .map((o) => Buffer.from(JSON.stringify(o))),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    );
    await fc.assert(
      fc.asyncProperty(methods, bodies, async (method, body) => {
        // Only inputs a writing call refuses are compared (a Login with a numeric password, an Update or
        // Delete with no valid id): the first of two accepted writes would change what the second sees.
        const writes = method === "Login" || method === "Update" || method === "Delete";
        const payload = writes ? Buffer.from(JSON.stringify({ ...safeObject(body), password: 1, id: 7 })) : body;
        const [short, library] = await bothWays(method, payload, json);
        expect(short).toEqual(library);
      }),
      { numRuns: 150 },
    );
  });

  test("over HTTP/2 too", async () => {
    const session = http2.connect(t.url);
    try {
      const ask = (declared: boolean) =>
        new Promise<Answer>((resolve, reject) => {
          const body = Buffer.from(JSON.stringify({ id: userId }));
          const stream = session.request({
            ":method": "POST",
            ":path": "/users.v1.Users/Read",
            authorization: `Bearer ${t.adminKey}`,
            "content-type": "application/json",
            "x-request-id": "h2-diff",
            ...(declared ? { "content-length": String(body.length) } : {}),
          });
          const chunks: Buffer[] = [];
          let headers: http2.IncomingHttpHeaders = {};
          stream.on("response", (h) => {
            headers = h;
          });
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            const { ":status": status, ...rest } = headers;
            resolve({ status: Number(status), headers: rest, body: Buffer.concat(chunks).toString("base64") });
          });
          stream.on("error", reject);
          stream.end(body);
        });
      const short = comparable(await ask(true));
      const library = comparable(await ask(false));
      expect(short.status).toBe(200);
      expect(short).toEqual(library);
    } finally {
      session.close();
    }
  });
});

function text(answer: Answer): string {
  return Buffer.from(answer.body, "base64").toString("utf8");
}

/** The fields of a JSON object body, or none. */
function safeObject(body: Buffer): Record<string, unknown> {
  try {
    const value = JSON.parse(body.toString("utf8")) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

describe("which requests take the short way", () => {
  const route = { options: validateUniversalHandlerOptions({ readMaxBytes: 1024 }) } as UnaryRoute;
  let server: http.Server;
  let url: string;
  const seen: Array<ReturnType<typeof plainUnaryCall>> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(plainUnaryCall(req, route, req.headers.host ?? ""));
      req.resume();
      req.on("end", () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/users.v1.Users/Read`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function judged(init: RequestInit): Promise<ReturnType<typeof plainUnaryCall>> {
    await fetch(url, { method: "POST", ...init });
    return seen.at(-1);
  }

  test("a unary JSON or binary POST with a declared length", async () => {
    expect(await judged({ headers: { "content-type": "application/json" }, body: "{}" })).toMatchObject({
      binary: false,
      length: 2,
      compression: null,
    });
    expect(await judged({ headers: { "content-type": "application/proto" }, body: "" })).toMatchObject({
      binary: true,
    });
  });

  test("everything else goes to the library", async () => {
    const json = { "content-type": "application/json" };
    expect(await judged({ headers: { ...json, "content-encoding": "gzip" }, body: "{}" })).toBeUndefined();
    expect(await judged({ headers: { ...json, "connect-timeout-ms": "1000" }, body: "{}" })).toBeUndefined();
    expect(await judged({ headers: { "content-type": "application/connect+json" }, body: "{}" })).toBeUndefined();
    expect(await judged({ headers: { "content-type": "application/grpc-web+proto" }, body: "" })).toBeUndefined();
    expect(await judged({ headers: json, body: "x".repeat(1025) })).toBeUndefined();
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("{}"));
        controller.close();
      },
    });
    expect(await judged({ headers: json, body: chunked, duplex: "half" } as RequestInit)).toBeUndefined();
  });
});
