// Without a live API key, a Users call is refused before its body is read:
// over every protocol, a request whose body never finishes still gets its
// Unauthenticated answer (the server would otherwise wait for, and buffer, up
// to MAX_BODY_BYTES of it). With a key the body is read as usual, and the
// refusal is logged like any other.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { hideTable } from "../support/faults.js";
import { startTestServer, type TestServer } from "../support/server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const BAD_KEY = "authorization: Bearer usk_not-a-key-at-all-000000000000000000000";

/**
 * Sends an HTTP/1.1 request head and a first piece of a much longer body,
 * never the rest; resolves with what came back once `done` says it is all
 * there (by default: the answer's head).
 */
function h1Unfinished(
  path: string,
  contentType: string,
  headers: string[] = [BAD_KEY],
  done = (text: string) => text.includes("\r\n\r\n"),
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(s.port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (done(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on("error", reject);
    socket.write(
      [
        `POST ${path} HTTP/1.1`,
        "host: x",
        `content-type: ${contentType}`,
        "content-length: 900000",
        ...headers,
        "",
        "",
      ].join("\r\n"),
    );
    socket.write(Buffer.alloc(1000, 0x7b)); // "{{{{..." and 899,000 bytes that never come
  });
}

/**
 * The same over HTTP/2: the answer's status (grpc-status, from the headers of
 * a trailers-only answer or from the trailers; else the HTTP status) for a
 * stream whose body never ends.
 */
function h2Unfinished(path: string, contentType: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${s.port}`);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": contentType,
      te: "trailers",
      authorization: BAD_KEY.split(": ")[1]!,
    });
    const done = (status: string) => {
      session.destroy();
      resolve(status);
    };
    stream.on("response", (headers) => {
      const grpc = headers["grpc-status"];
      if (typeof grpc === "string") done(`grpc-status ${grpc}`);
      else if (!String(headers["content-type"]).startsWith("application/grpc")) done(`http ${headers[":status"]}`);
    });
    stream.on("trailers", (trailers) => done(`grpc-status ${trailers["grpc-status"]}`));
    stream.on("data", (chunk: Buffer) => {
      // gRPC-Web carries its status in a trailer frame of the body.
      const status = /grpc-status: ?(\d+)/.exec(chunk.toString("latin1"))?.[1];
      if (status !== undefined) done(`grpc-status ${status}`);
    });
    stream.resume();
    stream.on("error", () => undefined);
    stream.write(Buffer.from([0, 0, 0, 0x03, 0xe8])); // a gRPC frame header announcing 1000 bytes
    stream.write(Buffer.alloc(10));
  });
}

describe("calls without a live key are refused before their body is read", () => {
  test.each([
    ["Connect JSON", "application/json"],
    ["Connect binary", "application/proto"],
  ])("%s over HTTP/1.1: 401", async (_name, contentType) => {
    expect(await h1Unfinished("/users.v1.Users/Search", contentType)).toMatch(/^HTTP\/1\.1 401 /);
  });

  test("gRPC-Web over HTTP/1.1: grpc-status 16", async () => {
    // gRPC-Web carries the status in a trailer frame at the end of the body.
    const answer = await h1Unfinished("/users.v1.Users/Search", "application/grpc-web+proto", [BAD_KEY], (text) =>
      /grpc-status: ?\d+\r\n/.test(text),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/grpc-status: ?16\r\n/i);
  });

  test.each(["/users/Users/Search", "/v1/users/Search"])("M3O %s: 401 in M3O's shape", async (path) => {
    expect(await h1Unfinished(path, "application/x-www-form-urlencoded")).toMatch(/^HTTP\/1\.1 401 /);
  });

  test("gRPC over HTTP/2: grpc-status 16", async () => {
    expect(await h2Unfinished("/users.v1.Users/Search", "application/grpc")).toBe("grpc-status 16");
  });

  // Every content type the Connect router accepts for a Users call, JSON codecs and charsets included.
  const GRPC_TYPES = [
    "application/grpc",
    "application/grpc+proto",
    "application/grpc+json",
    "application/grpc+json; charset=utf-8",
    "application/grpc+json;charset=utf-8",
  ];
  const GRPC_WEB_TYPES = [
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web+json",
    "application/grpc-web+json; charset=utf-8",
    "application/grpc-web+json;charset=UTF-8",
  ];
  // The Connect library serves no gRPC-Web text: refused as it stands, body unread.
  const UNSERVED_TYPES = [
    "application/grpc-web-text",
    "application/grpc-web-text+proto",
    "application/grpc-web-text+json",
  ];
  const CONNECT_TYPES = ["application/json", "application/json; charset=utf-8", "application/proto"];

  test.each([...GRPC_TYPES, ...GRPC_WEB_TYPES])("%s over HTTP/2: grpc-status 16", async (contentType) => {
    expect(await h2Unfinished("/users.v1.Users/Search", contentType)).toBe("grpc-status 16");
  });

  test.each(CONNECT_TYPES)("Connect %s over HTTP/2: 401", async (contentType) => {
    expect(await h2Unfinished("/users.v1.Users/Search", contentType)).toBe("http 401");
  });

  test.each([...GRPC_TYPES, ...GRPC_WEB_TYPES])("%s over HTTP/1.1: grpc-status 16", async (contentType) => {
    const answer = await h1Unfinished("/users.v1.Users/Search", contentType, [BAD_KEY], (text) =>
      /grpc-status: ?\d+\r\n/i.test(text),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/grpc-status: ?16\r\n/i);
  });

  test.each(UNSERVED_TYPES)("%s: 415 over both protocols", async (contentType) => {
    expect(await h1Unfinished("/users.v1.Users/Search", contentType)).toMatch(/^HTTP\/1\.1 415 /);
    expect(await h2Unfinished("/users.v1.Users/Search", contentType)).toBe("http 415");
  });

  test("a key that cannot be checked (its table is gone) refuses the call with that error, body unread", async () => {
    const fault = await hideTable(s.config.databaseUrl, "api_keys");
    try {
      // Internal: a missing table is no failure the service expects (an unreachable database would be 14).
      expect(await h2Unfinished("/users.v1.Users/Search", "application/grpc+json")).toBe("grpc-status 13");
      expect(await h1Unfinished("/users.v1.Users/Search", "application/json")).toMatch(/^HTTP\/1\.1 500 /);
      // The M3O paths too: refused on the headers with the same error, not read and checked again.
      for (const path of ["/users/Users/Search", "/v1/users/Search"]) {
        const answer = await h1Unfinished(path, "application/json", [BAD_KEY], (text) => text.includes("}"));
        expect(answer).toMatch(/^HTTP\/1\.1 500 /);
        expect(answer).toContain('"detail":"internal error"');
      }
    } finally {
      await fault.release();
    }
  });

  test("no authorization header at all: the same", async () => {
    expect(await h1Unfinished("/users.v1.Users/Search", "application/json", [])).toMatch(/^HTTP\/1\.1 401 /);
  });

  test("the refusals are logged and counted as calls, and the port keeps serving", async () => {
    const before = s.logs.length;
    await h1Unfinished("/users.v1.Users/Read", "application/json");
    const line = s.logs
      .slice(before)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === "call");
    expect(line).toMatchObject({ rpc: "users.v1.Users/Read", code: "unauthenticated", protocol: "connect" });
    const res = await fetch(`${s.url}/users/Users/Search`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.adminKey}` },
      body: "{}",
    });
    expect(res.status).toBe(200);
  });
});
