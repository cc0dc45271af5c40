// Without a live API key, a Users call is refused before its body is read:
// over every protocol, a request whose body never finishes still gets its
// Unauthenticated answer (the server would otherwise wait for, and buffer, up
// to MAX_BODY_BYTES of it). With a key the body is read as usual, and the
// refusal is logged like any other.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
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

/** The same over HTTP/2: the answer's trailers for a stream whose body never ends. */
function h2Unfinished(path: string, contentType: string): Promise<http2.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${s.port}`);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": contentType,
      authorization: BAD_KEY.split(": ")[1]!,
    });
    stream.on("trailers", (trailers) => {
      session.destroy();
      resolve(trailers);
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
    const headers = await h2Unfinished("/users.v1.Users/Search", "application/grpc");
    expect(headers["grpc-status"]).toBe("16");
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
