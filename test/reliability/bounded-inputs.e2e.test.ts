// Every input has a bound, and overstepping it gets a clean, clear refusal:
// body size (declared, chunked, and after decompression), every string field,
// limit/offset and the other list sizes, header size and count, and HTTP/2
// streams per connection. Field rules give InvalidArgument naming the field;
// sizes give ResourceExhausted (413 on the M3O paths); header and stream
// limits get the transport's own refusal (431, RST_STREAM, GOAWAY). After each,
// the server process is still alive and answering. The server runs as its own
// process, as in production (in jest's VM, Node's own errors fail `instanceof
// Error` and some library mappings degrade).
import net from "node:net";
import zlib from "node:zlib";
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { isAlive } from "./support/probes.js";
import { FRAME, grpcRequestHeaders, RawH2 } from "./support/raw-h2.js";
import { encodeRequest, type Method, rpc, rpcName } from "./support/rpc.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";
import { grpcFrame, PROTOCOLS, type Protocol, Wire } from "./support/wire.js";

const MAX_BODY = 65536;
const ADMIN_KEY = `bounded-inputs-admin-${"k".repeat(24)}`;
const HTTP_STATUS_PROTOCOLS: Protocol[] = ["connect-json", "connect-binary", "m3o"];

describe.each(ENGINES)("bounded inputs (%s)", (engine) => {
  let server: ServerProcess;
  let wire: Wire;
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };

  beforeAll(async () => {
    server = await startServerProcess({
      DATABASE_URL: await freshDatabaseUrl(engine),
      USERS_BOOTSTRAP_KEY: ADMIN_KEY,
      BCRYPT_COST: "4",
      MAX_BODY_BYTES: String(MAX_BODY),
    });
    wire = new Wire(server.url);
  });
  afterAll(async () => {
    wire.close();
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });

  /** The server survived and still serves RPCs. */
  async function stillServing(): Promise<void> {
    expect(server.alive()).toBe(true);
    expect(await isAlive(server.url)).toBe(true);
    const fresh = new Wire(server.url);
    try {
      expect((await rpc(fresh, "connect-json", "search", {}, admin)).code).toBe("ok");
    } finally {
      fresh.close();
    }
  }

  describe("request body size", () => {
    /** A valid Search request of exactly `size` bytes on the wire for the protocol. */
    function bodyOf(protocol: Protocol, size: number): Buffer {
      if (protocol === "connect-json" || protocol === "m3o") {
        // Whitespace is valid JSON: the request is fine except for its size.
        return Buffer.concat([Buffer.from("{"), Buffer.alloc(size - 2, 0x20), Buffer.from("}")]);
      }
      // An unknown field (number 15, bytes) of the needed length: valid protobuf.
      const payloadSize = protocol === "connect-binary" ? size : size - 5;
      const content = Buffer.alloc(payloadSize - 4, 0x61);
      const field = Buffer.concat([Buffer.from([0x7a]), varint(content.length), content]);
      return protocol === "connect-binary" ? field : grpcFrame(field);
    }

    test.each(PROTOCOLS)(
      "%s: a body just under MAX_BODY_BYTES is served; one byte over is ResourceExhausted",
      async (protocol) => {
        const under = await wire.send(protocol, {
          method: "Search",
          body: bodyOf(protocol, MAX_BODY - 16),
          headers: admin,
        });
        expect(under.code).toBe("ok");
        const over = await wire.send(protocol, {
          method: "Search",
          body: bodyOf(protocol, MAX_BODY + 6),
          headers: admin,
        });
        expect(over.code).toBe("resource_exhausted");
        if (protocol === "m3o") {
          expect([over.httpStatus, over.message]).toEqual([413, `request body: must be at most ${MAX_BODY} bytes`]);
        } else {
          expect(over.message).toMatch(
            new RegExp(`^message size \\d+ is larger than configured readMaxBytes ${MAX_BODY}$`),
          );
          if (HTTP_STATUS_PROTOCOLS.includes(protocol)) expect(over.httpStatus).toBe(429);
        }
        await stillServing();
      },
    );

    test.each(["connect-json", "m3o"] as const)(
      "%s: a chunked body with no declared length is cut off at the limit too",
      async (protocol) => {
        const path = protocol === "m3o" ? "/users/Users/Search" : "/users.v1.Users/Search";
        const head = `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`;
        const chunk = Buffer.alloc(MAX_BODY, 0x20);
        const chunks = Array.from({ length: 4 }, () =>
          Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]),
        );
        const statusLine = await rawHttp1(server.port, [Buffer.from(head), ...chunks, Buffer.from("0\r\n\r\n")]);
        expect(statusLine).toBe(
          protocol === "m3o" ? "HTTP/1.1 413 Payload Too Large" : "HTTP/1.1 429 Too Many Requests",
        );
        await stillServing();
      },
    );

    test.each([
      ["Connect, a body over the limit", "/users.v1.Users/Search", "application/json", 4 * MAX_BODY],
      [
        "gRPC-Web, a first message over the limit with more after it",
        "/users.v1.Users/Search",
        "application/grpc-web+proto",
        2 * MAX_BODY,
      ],
    ])(
      "after an early refusal (%s), the same HTTP/1.1 connection serves the next request",
      async (_what, path, contentType, size) => {
        const body =
          contentType === "application/json"
            ? Buffer.alloc(size, 0x20)
            : Buffer.concat([grpcFrame(Buffer.alloc(MAX_BODY + 1)), Buffer.alloc(size - MAX_BODY - 6)]);
        // A declared length short enough for the server to throw the rest away (with
        // no length, or a longer one, the answer says Connection: close instead).
        const head = `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\ncontent-type: ${contentType}\r\ncontent-length: ${body.length}\r\n\r\n`;
        const next = `POST /users/Users/Search HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\ncontent-length: 2\r\n\r\n{}`;
        const statuses = await twoRequests(server.port, Buffer.concat([Buffer.from(head), body]), Buffer.from(next));
        expect(statuses).toEqual([contentType === "application/json" ? 429 : 200, 200]);
      },
    );

    test("a client that keeps sending far past the limit after its refusal loses the connection, and nothing else", async () => {
      const head = `POST /users.v1.Users/Search HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`;
      const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
      const chunked = Buffer.concat([
        Buffer.from(head),
        Buffer.from(`${body.length.toString(16)}\r\n`),
        body,
        Buffer.from("\r\n0\r\n\r\n"),
      ]);
      const next = `POST /users/Users/Search HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\ncontent-length: 2\r\n\r\n{}`;
      expect(await twoRequests(server.port, chunked, Buffer.from(next))).toEqual([429, "closed"]);
      await stillServing();
    });

    test.each([
      ["connect-json", "content-encoding", "gzip"],
      ["connect-json", "content-encoding", "br"],
      ["connect-binary", "content-encoding", "gzip"],
      ["grpc", "grpc-encoding", "gzip"],
      ["grpc-web", "grpc-encoding", "gzip"],
    ] as Array<[Protocol, string, string]>)(
      "%s with %s %s: a body that inflates past the limit is ResourceExhausted; a corrupt one is InvalidArgument",
      async (protocol, header, encoding) => {
        // 20 MiB of spaces squeeze into about 20 KiB: a small upload, a large inflation.
        const inflated = Buffer.alloc(20 * 1024 * 1024, 0x20);
        const squeezed = encoding === "gzip" ? zlib.gzipSync(inflated) : zlib.brotliCompressSync(inflated);
        const framed = (bytes: Buffer) =>
          protocol === "grpc" || protocol === "grpc-web" ? grpcFrame(bytes, 1) : bytes;
        const bomb = await wire.send(protocol, {
          method: "Search",
          body: framed(squeezed),
          headers: { ...admin, [header]: encoding },
        });
        expect([bomb.code, bomb.message]).toEqual([
          "resource_exhausted",
          `message is larger than configured readMaxBytes ${MAX_BODY} after decompression`,
        ]);
        const corrupt = await wire.send(protocol, {
          method: "Search",
          body: framed(Buffer.from("not compressed")),
          headers: { ...admin, [header]: encoding },
        });
        expect([corrupt.code, corrupt.message]).toEqual(["invalid_argument", "decompression failed"]);
        await stillServing();
      },
    );
  });

  describe("field lengths", () => {
    const long = (n: number, c = "a") => c.repeat(n);
    const HUGE = long(60_000);
    // [RPC, request, field named in the message, the message's rule]
    const CASES: Array<[Method, JsonObject, string, string]> = [
      [
        "create",
        { username: long(40), email: "a@example.com", password: "password1" },
        "username",
        'must be 1 to 39 ASCII letters and digits, with single "-" or "_" allowed between them',
      ],
      [
        "create",
        { username: HUGE, email: "a@example.com", password: "password1" },
        "username",
        'must be 1 to 39 ASCII letters and digits, with single "-" or "_" allowed between them',
      ],
      [
        "create",
        { username: "ann", email: `${long(64)}@${long(63)}.${long(63)}.${long(63)}.com`, password: "password1" },
        "email",
        "must be at most 254 characters",
      ],
      ["create", { username: "ann", email: HUGE, password: "password1" }, "email", "must be at most 254 characters"],
      [
        "create",
        { username: "ann", email: "a@example.com", password: long(73) },
        "password",
        "must be at most 72 bytes of UTF-8",
      ],
      [
        "create",
        { username: "ann", email: "a@example.com", password: long(25, "€") },
        "password",
        "must be at most 72 bytes of UTF-8",
      ],
      [
        "create",
        { username: "ann", email: "a@example.com", password: HUGE },
        "password",
        "must be at most 72 bytes of UTF-8",
      ],
      [
        "create",
        { id: long(65), username: "ann", email: "a@example.com", password: "password1" },
        "id",
        "must be 1 to 64 of A-Z a-z 0-9 . _ -",
      ],
      ["read", { id: HUGE }, "id", "must be 1 to 64 of A-Z a-z 0-9 . _ -"],
      ["update", { id: "x", email: HUGE }, "email", "must be at most 254 characters"],
      ["delete", { id: long(65) }, "id", "must be 1 to 64 of A-Z a-z 0-9 . _ -"],
      ["search", { username: long(40) }, "username", "a username prefix is at most 39 of A-Z a-z 0-9 _ -"],
      ["search", { email: long(255) }, "email", "must be at most 254 characters"],
      [
        "login",
        { username: HUGE, password: "password1" },
        "username",
        'must be 1 to 39 ASCII letters and digits, with single "-" or "_" allowed between them',
      ],
      ["login", { username: "ann", password: HUGE }, "password", "must be at most 72 bytes of UTF-8"],
      [
        "updatePassword",
        { userId: HUGE, oldPassword: "password1", newPassword: "password2", confirmPassword: "password2" },
        "user_id",
        "must be 1 to 64 of A-Z a-z 0-9 . _ -",
      ],
      [
        "updatePassword",
        { userId: "x", oldPassword: long(73), newPassword: "password2", confirmPassword: "password2" },
        "old_password",
        "must be at most 72 bytes of UTF-8",
      ],
      [
        "updatePassword",
        { userId: "x", oldPassword: "password1", newPassword: HUGE, confirmPassword: "x" },
        "new_password",
        "must be at most 72 bytes of UTF-8",
      ],
      ["readSession", { sessionId: long(257) }, "session_id", "must be at most 256 characters"],
      ["logout", { sessionId: HUGE }, "session_id", "must be at most 256 characters"],
      ["listSessions", { userId: long(65) }, "user_id", "must be 1 to 64 of A-Z a-z 0-9 . _ -"],
      [
        "revokeSessions",
        { userId: "x", handles: Array.from({ length: 1001 }, () => "0") },
        "handles",
        "at most 1000 handles",
      ],
      [
        "revokeSessions",
        { userId: "x", handles: [HUGE] },
        "handles",
        "each handle is 64 lowercase hex characters, as ListSessions returns",
      ],
    ];

    test.each(PROTOCOLS)(
      "%s: an overlong or huge value of any field is InvalidArgument naming the field and its rule",
      async (protocol) => {
        for (const [method, request, field, rule] of CASES) {
          const answer = await rpc(wire, protocol, method, request, admin);
          expect({ method, field, code: answer.code, message: answer.message }).toEqual({
            method,
            field,
            code: "invalid_argument",
            message: `${field}: ${rule}`,
          });
          if (HTTP_STATUS_PROTOCOLS.includes(protocol)) expect(answer.httpStatus).toBe(400);
        }
      },
    );

    test("the namespace header and the API key are bounded too", async () => {
      const ns = await rpc(wire, "connect-json", "search", {}, { ...admin, "micro-namespace": long(64, "n") });
      expect([ns.code, ns.message]).toEqual(["invalid_argument", "micro-namespace: must be 1 to 63 of a-z 0-9 _ -"]);
      const key = await rpc(wire, "connect-json", "search", {}, { authorization: `Bearer ${long(8000, "k")}` });
      expect([key.code, key.message]).toEqual([
        "unauthenticated",
        "a valid API key is required: authorization: Bearer <key>",
      ]);
    });
  });

  describe("limit and offset", () => {
    const LIMIT = "limit: must be from 0 to 1000 (0 means 25)";
    const OFFSET = "offset: must be from 0 to 10000";
    const CASES: Array<[JsonObject, string]> = [
      [{ limit: "-1" }, LIMIT],
      [{ limit: "1001" }, LIMIT],
      [{ limit: "9223372036854775807" }, LIMIT],
      [{ limit: "-9223372036854775808" }, LIMIT],
      [{ offset: "-1" }, OFFSET],
      [{ offset: "10001" }, OFFSET],
      [{ offset: "9223372036854775807" }, OFFSET],
    ];

    test.each(PROTOCOLS)("%s: out of range is InvalidArgument; the edges are served", async (protocol) => {
      for (const [request, message] of CASES) {
        const answer = await rpc(wire, protocol, "search", request, admin);
        expect({ request, code: answer.code, message: answer.message }).toEqual({
          request,
          code: "invalid_argument",
          message,
        });
      }
      for (const request of [{ limit: "1000" }, { limit: "0" }, { offset: "10000" }] as JsonObject[]) {
        expect((await rpc(wire, protocol, "search", request, admin)).code).toBe("ok");
      }
    });

    test("M3O: numbers that are not whole or too large for int64 are refused as InvalidArgument naming limit", async () => {
      for (const limit of ["1.5", "1e300", '"ten"', "true", "[]", "{}"]) {
        const answer = await wire.send("m3o", {
          method: "Search",
          body: Buffer.from(`{"limit": ${limit}}`),
          headers: admin,
        });
        expect({ limit, status: answer.httpStatus }).toEqual({ limit, status: 400 });
        expect(answer.message).toMatch(/^limit: /);
      }
    });
  });

  describe("headers", () => {
    test("HTTP/1.1: headers over 16 KiB get 431 and the connection is closed", async () => {
      const head = `POST /users/Users/Search HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\nx-padding: ${"a".repeat(20_000)}\r\ncontent-length: 2\r\n\r\n{}`;
      expect(await rawHttp1(server.port, [Buffer.from(head)], { untilClosed: true })).toBe(
        "HTTP/1.1 431 Request Header Fields Too Large",
      );
      await stillServing();
    });

    test.each([
      ["a header list over 16 KiB", [["x-padding", "a".repeat(20_000)]]],
      ["more than 128 header fields", Array.from({ length: 200 }, (_, i) => [`x-h${i}`, "v"])],
    ] as Array<[string, Array<[string, string]>]>)(
      "HTTP/2: %s resets that stream only; the connection serves the next one",
      async (_what, extra) => {
        const h2 = await RawH2.connect(server.port);
        try {
          h2.headers(1, grpcRequestHeaders("Search", [["authorization", `Bearer ${ADMIN_KEY}`], ...extra]), true);
          await h2.until((frames) => frames.some((f) => f.type === FRAME.RST_STREAM && f.stream === 1));
          expect(h2.resets().get(1)).toBe(0xb); // ENHANCE_YOUR_CALM
          // The same connection still answers a normal call: its trailers end stream 3.
          h2.headers(3, grpcRequestHeaders("Search", [["authorization", `Bearer ${ADMIN_KEY}`]]), false);
          h2.data(3, grpcFrame(Buffer.alloc(0)), true);
          await h2.until((frames) =>
            frames.some((f) => f.type === FRAME.HEADERS && f.stream === 3 && (f.flags & 0x1) === 1),
          );
          expect(h2.closed).toBe(false);
          expect(h2.resets().has(3)).toBe(false);
        } finally {
          h2.close();
        }
        await stillServing();
      },
    );
  });

  describe("HTTP/2 streams per connection", () => {
    test("a client opening more than 100 concurrent streams loses that connection; other connections are untouched", async () => {
      const other = new Wire(server.url);
      const abusive = await RawH2.connect(server.port);
      try {
        // 100 streams are allowed: open them all and leave them waiting for their bodies.
        for (let i = 0; i < 100; i++)
          abusive.headers(1 + 2 * i, grpcRequestHeaders("Search", [["authorization", `Bearer ${ADMIN_KEY}`]]), false);
        // A call on another connection meanwhile is served.
        expect((await rpc(other, "grpc", "search", {}, admin)).code).toBe("ok");
        expect(abusive.goaway()).toBeUndefined();
        // The 101st breaks the limit the server announced: the connection is ended with GOAWAY.
        abusive.headers(201, grpcRequestHeaders("Search", [["authorization", `Bearer ${ADMIN_KEY}`]]), false);
        await abusive.until((frames) => frames.some((f) => f.type === FRAME.GOAWAY));
        expect(abusive.goaway()).toBeDefined();
        expect((await rpc(other, "grpc", "search", {}, admin)).code).toBe("ok");
      } finally {
        abusive.close();
        other.close();
      }
      await stillServing();
    });

    test("a client that obeys the limit just waits: 250 concurrent calls on one connection all succeed", async () => {
      const one = new Wire(server.url);
      try {
        const answers = await Promise.all(Array.from({ length: 250 }, () => rpc(one, "grpc", "search", {}, admin)));
        expect(answers.filter((a) => a.code !== "ok")).toEqual([]);
      } finally {
        one.close();
      }
    });
  });

  test("every RPC still refuses a request of the wrong shape without harm (all protocols, one pass)", async () => {
    for (const protocol of PROTOCOLS) {
      for (const method of ["create", "login", "search"] as Method[]) {
        const good = encodeRequest(protocol, method, {});
        expect((await wire.send(protocol, { method: rpcName(method), body: good, headers: admin })).code).toBe(
          method === "search" ? "ok" : "invalid_argument",
        );
      }
    }
    await stillServing();
  });
});

/**
 * Writes the parts on a fresh connection (as far as the server reads them)
 * and returns the status line of the answer, once its headers are in (or,
 * with untilClosed, once the server has closed the connection).
 */
async function rawHttp1(port: number, parts: Buffer[], options: { untilClosed?: boolean } = {}): Promise<string> {
  const socket = net.connect(port, "127.0.0.1");
  let answer = "";
  let closed = false;
  socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  const done = new Promise<void>((resolve) => {
    socket.on("close", () => {
      closed = true;
      resolve();
    });
    if (!options.untilClosed) socket.on("data", () => answer.includes("\r\n\r\n") && resolve());
  });
  try {
    for (const part of parts) {
      if (closed || answer.includes("\r\n\r\n")) break;
      // The server may answer without reading the rest: stop writing then.
      if (!socket.write(part)) await Promise.race([new Promise((resolve) => socket.once("drain", resolve)), done]);
    }
    await done;
    return answer.split("\r\n", 1)[0]!;
  } finally {
    socket.destroy();
  }
}

/**
 * Sends a request, reads its answer's status, then sends another on the same
 * connection: the statuses, or "closed" where the server ended the connection.
 */
async function twoRequests(port: number, first: Buffer, second: Buffer): Promise<Array<number | "closed">> {
  const socket = net.connect(port, "127.0.0.1");
  let text = "";
  let closed = false;
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
    wake();
  });
  socket.on("error", () => undefined);
  socket.on("close", () => {
    closed = true;
    wake();
  });
  /** Waits for the n-th complete answer (status line, headers and a content-length body); its status. */
  const answer = async (n: number): Promise<number | "closed"> => {
    for (;;) {
      const answers = [...text.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n((?:[^\r]+\r\n)*)\r\n/g)];
      const found = answers[n - 1];
      if (found) {
        const length = Number(/content-length: (\d+)/i.exec(found[2]!)?.[1] ?? 0);
        if (text.length >= found.index + found[0].length + length) return Number(found[1]);
      }
      if (closed) return "closed";
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  try {
    socket.write(first);
    const one = await answer(1);
    if (!closed) socket.write(second);
    return [one, await answer(2)];
  } finally {
    socket.destroy();
  }
}

function varint(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return Buffer.from(out);
}
