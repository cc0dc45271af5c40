// Request bodies held at once are bounded for all calls together
// (MAX_BUFFERED_BODY_BYTES, src/transport/body-budget.ts): half-sent bodies
// with a valid key take the budget, a call that would pass it is refused
// unread with ResourceExhausted BODIES_BUSY and retry-after on every way in
// (plain Connect, the library's adapter, the M3O paths), and the bytes come
// back when the held calls end.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

const BUDGET = 1024 * 1024;
const HELD = 500_000;

interface Held {
  stream: http2.ClientHttp2Stream;
  answered: Promise<number>;
}

describe.each(ENGINES)("the budget of request bodies held at once (%s)", (engine) => {
  let t: TestServer;
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    t = await startTestServer({
      engine,
      env: { MAX_BUFFERED_BODY_BYTES: String(BUDGET), MAX_BODY_BYTES: "600000" },
    });
    session = http2.connect(t.url);
    session.on("error", () => undefined);
  });
  afterAll(async () => {
    session.close();
    await t.close();
  });

  /** A keyed Read declaring `length` bytes, of which only the first kilobyte is sent. */
  function halfSent(length: number): Held {
    const stream = session.request({
      ":method": "POST",
      ":path": "/users.v1.Users/Read",
      authorization: `Bearer ${t.adminKey}`,
      "content-type": "application/json",
      "content-length": String(length),
    });
    stream.on("error", () => undefined);
    stream.write(Buffer.alloc(1024, 0x20));
    const answered = new Promise<number>((resolve) => {
      stream.on("response", (h) => resolve(Number(h[":status"])));
      stream.on("close", () => resolve(0));
    });
    return { stream, answered };
  }

  async function answerOf(
    stream: http2.ClientHttp2Stream,
  ): Promise<{ status: number; retryAfter: string; body: string }> {
    return new Promise((resolve) => {
      let status = 0;
      let retryAfter = "";
      let body = "";
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        retryAfter = String(h["retry-after"] ?? "");
      });
      stream.on("data", (d: Buffer) => {
        body += d.toString();
      });
      // Answered before the body ended: the server's side ends while ours is still open.
      stream.on("end", () => resolve({ status, retryAfter, body }));
      stream.on("close", () => resolve({ status, retryAfter, body }));
    });
  }

  /** A chunked HTTP/1.1 request (the library's way in): the status line and retry-after of its answer. */
  function chunked(path: string, chunk: number): Promise<string> {
    return new Promise((resolve) => {
      const socket = net.connect(Number(new URL(t.url).port), "127.0.0.1");
      let answer = "";
      socket.on("data", (d: Buffer) => {
        answer += d.toString("latin1");
        if (answer.includes("\r\n\r\n")) socket.destroy();
      });
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(answer));
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nauthorization: Bearer ${t.adminKey}\r\n` +
          "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n" +
          `${chunk.toString(16)}\r\n${" ".repeat(chunk)}\r\n`,
      );
    });
  }

  test("answered calls give their bytes back: 30 bodies of 100 kB in a row, twice the budget, all read", async () => {
    const padded = JSON.stringify({ id: "nobody", pad: "x".repeat(100_000) });
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      // Connect over HTTP/1.1 keep-alive (the plain way in) ...
      const res = await fetch(`${t.url}/users.v1.Users/Read`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/json" },
        body: padded,
      });
      statuses.push(res.status);
      await res.arrayBuffer();
      // ... and the M3O path.
      const m3o = await fetch(`${t.url}/users/Users/Read`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/json" },
        body: padded,
      });
      statuses.push(m3o.status);
      await m3o.arrayBuffer();
    }
    // Every body read and answered (no such user), never refused for the budget.
    expect(new Set(statuses)).toEqual(new Set([404]));
  });

  test("calls pipelined behind an answer that never comes give their bytes back when the connection closes", async () => {
    // Node never emits "close" on an HTTP/1.1 answer queued behind another when the socket goes away.
    const watch = Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from("{}")]);
    const body = `{}${" ".repeat(99_998)}`;
    const socket = net.connect(Number(new URL(t.url).port), "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write(
      "POST /grpc.health.v1.Health/Watch HTTP/1.1\r\nHost: x\r\ncontent-type: application/connect+json\r\n" +
        `content-length: ${watch.length}\r\n\r\n`,
    );
    socket.write(watch);
    for (let i = 0; i < 9; i++) {
      socket.write(
        `POST /users.v1.Users/Read HTTP/1.1\r\nHost: x\r\nauthorization: Bearer ${t.adminKey}\r\n` +
          `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // 900 kB were taken by the pipelined calls; all of it must be back for these two to be held.
    const one = halfSent(HELD - 50_000);
    const two = halfSent(HELD - 50_000);
    const heldOrAnswered = (h: Held) =>
      Promise.race([h.answered, new Promise((r) => setTimeout(() => r("held"), 500))]);
    expect(await heldOrAnswered(one)).toBe("held");
    expect(await heldOrAnswered(two)).toBe("held");
    one.stream.close(http2.constants.NGHTTP2_CANCEL);
    two.stream.close(http2.constants.NGHTTP2_CANCEL);
    await Promise.all([one.answered, two.answered]);
  });

  test("half-sent bodies take the budget; past it every way in refuses unread; ended calls give it back", async () => {
    const first = halfSent(HELD);
    const second = halfSent(HELD);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Plain Connect: the declared length alone is over what is left.
    const third = session.request({
      ":method": "POST",
      ":path": "/users.v1.Users/Read",
      authorization: `Bearer ${t.adminKey}`,
      "content-type": "application/json",
      "content-length": String(HELD),
    });
    third.on("error", () => undefined);
    third.write(Buffer.alloc(1024, 0x20));
    const refused = await answerOf(third);
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe("1");
    expect(refused.body).toContain("BODIES_BUSY");

    // The library's adapter (chunked, no declared length), refused when a chunk would pass the budget.
    const library = await chunked("/users.v1.Users/Read", 100_000);
    expect(library).toMatch(/^HTTP\/1\.1 429 /);
    expect(library).toMatch(/\r\nretry-after: 1\r\n/i);

    // The M3O paths.
    const m3o = await chunked("/users/Users/Read", 100_000);
    expect(m3o).toMatch(/^HTTP\/1\.1 429 /);
    expect(m3o).toMatch(/\r\nretry-after: 1\r\n/i);

    // A small call still fits beside the held ones.
    const small = await fetch(`${t.url}/users.v1.Users/Read`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "nobody" }),
    });
    expect(small.status).toBe(404);

    // The held calls end (the client gives up): their bytes come back.
    first.stream.close(http2.constants.NGHTTP2_CANCEL);
    second.stream.close(http2.constants.NGHTTP2_CANCEL);
    await Promise.all([first.answered, second.answered]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = halfSent(HELD);
    const another = halfSent(HELD);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await Promise.race([again.answered, new Promise((r) => setTimeout(() => r("held"), 300))])).toBe("held");
    expect(await Promise.race([another.answered, new Promise((r) => setTimeout(() => r("held"), 300))])).toBe("held");
    again.stream.close(http2.constants.NGHTTP2_CANCEL);
    another.stream.close(http2.constants.NGHTTP2_CANCEL);
  });
});
