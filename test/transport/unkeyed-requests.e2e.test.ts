// Requests anyone who reaches the port can send, over raw sockets: a request
// with no authority (HTTP/1.0 without Host, or an empty Host) is answered 400
// and the server stays up, whatever the path; and a body for a service that
// needs no key (health, reflection) may hold at most UNKEYED_BODY_MAX_BYTES.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { UNKEYED_BODY_MAX_BYTES } from "../../src/transport/early-auth.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** Sends raw bytes on a fresh connection; the first line of the answer (or "" if none came). */
function rawFirstLine(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    socket.on("data", (d: Buffer) => {
      answer += d.toString("latin1");
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(answer.split("\r\n", 1)[0] ?? ""));
    socket.write(request);
    setTimeout(() => socket.end(), 1_000);
  });
}

describe.each(ENGINES)("requests anyone may send (%s)", (engine) => {
  let t: TestServer;
  let port: number;
  beforeAll(async () => {
    t = await startTestServer({ engine });
    port = Number(new URL(t.url).port);
  });
  afterAll(() => t.close());

  const noAuthority: Array<[string, string]> = [
    [
      "HTTP/1.0 without Host, health GET",
      "GET /grpc.health.v1.Health/Check?encoding=json&message=%7B%7D HTTP/1.0\r\n\r\n",
    ],
    [
      "HTTP/1.1 with an empty Host, health POST in the plain unary shape",
      "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: \r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
    ],
    [
      "HTTP/1.0 without Host, a keyed RPC",
      "POST /users.v1.Users/Read HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    ],
  ];

  for (const host of [":18090", ":", "[", "[::1", "%zz", "x:99999", "x:-1", "a b"]) {
    noAuthority.push([
      `a malformed Host ${JSON.stringify(host)}`,
      `POST /users.v1.Users/Read HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
    ]);
  }

  test.each(noAuthority)("%s: 400, and the server is still up", async (_name, request) => {
    expect(await rawFirstLine(port, request)).toBe("HTTP/1.1 400 Bad Request");
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  test("a health check's body over its bound is refused on its declared length, before it is sent", async () => {
    const session = http2.connect(t.url);
    session.on("error", () => undefined);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Check",
        "content-type": "application/json",
        "content-length": String(1024 * 1024),
      });
      stream.on("error", () => undefined);
      stream.write(Buffer.alloc(1024, 0x20)); // and never the rest
      const status = await new Promise<number>((resolve) =>
        stream.on("response", (h) => resolve(Number(h[":status"]))),
      );
      const body = await new Promise<string>((resolve) => {
        let text = "";
        stream.on("data", (d: Buffer) => {
          text += d.toString();
        });
        stream.on("end", () => resolve(text));
        stream.on("close", () => resolve(text));
      });
      expect(status).toBe(429);
      expect(JSON.parse(body)).toMatchObject({ code: "resource_exhausted" });
      expect(body).toContain(String(UNKEYED_BODY_MAX_BYTES));
      stream.close();
    } finally {
      session.close();
    }
  });

  test("a health check within the bound is answered as always", async () => {
    const res = await fetch(`${t.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ service: "" }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "SERVING" });
  });
});
