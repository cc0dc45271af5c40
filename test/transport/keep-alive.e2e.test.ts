// A keep-alive HTTP/1.1 connection is never ended under a client that was
// told it could reuse it: when the server will not read a request's body to
// its end (a call refused on its key, or over MAX_BODY_BYTES) and the rest is
// too long to throw away, the answer says `Connection: close`, and the close
// is graceful (the answer, then FIN; never a reset before it). A real
// keep-alive client (node's http.Agent) then sends its next request on a new
// connection instead of failing with "socket hang up" / ECONNRESET.
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

const MAX_BODY = 1024 * 1024;

describe.each(ENGINES)("keep-alive connections after early answers (%s)", (engine) => {
  let s: TestServer;
  let agent: http.Agent;
  beforeAll(async () => {
    s = await startTestServer({ engine, env: { MAX_BODY_BYTES: String(MAX_BODY) } });
  });
  afterAll(() => s.close());

  interface Answer {
    status: number;
    connection: string | undefined;
  }

  /** One request through the shared keep-alive agent; `chunked` sends no content-length. */
  function send(path: string, body: Buffer, headers: Record<string, string>, chunked = false): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${s.url}${path}`,
        {
          method: "POST",
          agent,
          headers: chunked ? headers : { ...headers, "content-length": String(body.length) },
        },
        (res) => {
          res.resume();
          res.on("error", reject);
          res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        },
      );
      // The server may answer before it has read everything: a write error after the answer is no failure.
      let answered = false;
      req.once("response", () => (answered = true));
      req.on("error", (err) => setTimeout(() => answered || reject(err), 50));
      // Written in two pieces, so that without a content-length node sends it chunked.
      req.write(body.subarray(0, body.length >> 1));
      req.end(body.subarray(body.length >> 1));
    });
  }

  const admin = () => ({ authorization: `Bearer ${s.adminKey}` });
  const keyless = { authorization: "Bearer usk_not-a-live-key-00000000000000000000000" };
  const json = { "content-type": "application/json" };
  const big = Buffer.alloc(2 * MAX_BODY, 0x20);

  const CASES: Array<[string, string, () => Record<string, string>, Buffer, boolean, number]> = [
    ["Connect, keyless, 2 MiB declared", "/users.v1.Users/Search", () => ({ ...json, ...keyless }), big, false, 401],
    ["Connect, keyless, 2 MiB chunked", "/users.v1.Users/Search", () => ({ ...json, ...keyless }), big, true, 401],
    ["M3O, keyless, 2 MiB declared", "/users/Users/Search", () => keyless, big, false, 401],
    ["M3O, over the limit, 2 MiB declared", "/users/Users/Search", admin, big, false, 413],
    ["M3O, over the limit, 2 MiB chunked", "/users/Users/Search", admin, big, true, 413],
    [
      "Connect, over the limit, 2 MiB declared",
      "/users.v1.Users/Search",
      () => ({ ...json, ...admin() }),
      big,
      false,
      429,
    ],
    [
      "Connect, over the limit, 2 MiB chunked",
      "/users.v1.Users/Search",
      () => ({ ...json, ...admin() }),
      big,
      true,
      429,
    ],
  ];

  // (A body that had all arrived by the time of the answer needs no close: the connection is kept then.)
  test.each(CASES)("%s: the answer says Connection: close, and the client's next request is served", async (...c) => {
    const [, path, headers, body, chunked, status] = c;
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let round = 0; round < 3; round++) {
        const first = await send(path, body, headers(), chunked);
        expect(first.status).toBe(status);
        expect(["close", "keep-alive"]).toContain(first.connection);
        const next = await send("/users/Users/Search", Buffer.from("{}"), admin());
        expect(next).toEqual({ status: 200, connection: "keep-alive" });
      }
    } finally {
      agent.destroy();
    }
  });

  test("a keyless call whose unread body is short keeps its connection, which serves the next request", async () => {
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<net.Socket>();
    try {
      for (let round = 0; round < 3; round++) {
        const first = await send("/users.v1.Users/Search", Buffer.alloc(200_000, 0x20), { ...json, ...keyless });
        expect(first).toEqual({ status: 401, connection: "keep-alive" });
        const next = await send("/users/Users/Search", Buffer.from("{}"), admin());
        expect(next).toEqual({ status: 200, connection: "keep-alive" });
        for (const list of Object.values(agent.freeSockets)) for (const socket of list ?? []) sockets.add(socket);
      }
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  // The fuzzer's "keep-alive connection reset": a keyless call whose body was
  // still arriving when it was refused, on a connection that had already
  // carried a body. Its rest was thrown away by reading the socket, which
  // never restarted the reads Node's parser had stopped (flow control on the
  // unread request): the connection hung, and the client's next request on it
  // got ECONNRESET when the 65 s keep-alive timeout destroyed it.
  test("a keyless call with a 60 KB body after a call with a body: the next request on the connection is answered", async () => {
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const body = Buffer.concat([Buffer.from('{"username":"'), Buffer.alloc(60_000, 0x61), Buffer.from('"}')]);
    try {
      for (let round = 0; round < 3; round++) {
        expect((await send("/users.v1.Users/Search", Buffer.alloc(60_000, 0x20), { ...json, ...admin() })).status).toBe(
          400,
        );
        expect(await send("/users.v1.Users/ListSessions", body, { ...json, ...keyless })).toEqual({
          status: 401,
          connection: "keep-alive",
        });
        expect((await send("/users.v1.Users/ListSessions", Buffer.from("{}"), { ...json, ...admin() })).status).toBe(
          400,
        );
      }
    } finally {
      agent.destroy();
    }
  });

  test("over a raw socket: the whole answer, then FIN, before any reset", async () => {
    const socket = net.connect(s.port, "127.0.0.1");
    let text = "";
    const events: string[] = [];
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("end", () => events.push("fin"));
    socket.on("error", (err: NodeJS.ErrnoException) => events.push(err.code ?? "error"));
    const closed = new Promise((resolve) => socket.on("close", resolve));
    socket.write(
      `POST /users.v1.Users/Search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${Object.entries(keyless)
        .map(([k, v]) => `${k}: ${v}`)
        .join("\r\n")}\r\ncontent-length: ${8 * MAX_BODY}\r\n\r\n`,
    );
    // Keep sending the body the server will never read, as a client that does not watch for answers does.
    const pump = () => {
      while (!socket.destroyed && socket.writable && socket.write(Buffer.alloc(65536, 0x20)));
    };
    socket.on("drain", pump);
    pump();
    await closed;
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text.toLowerCase()).toContain("\r\nconnection: close\r\n");
    const length = Number(/content-length: (\d+)/i.exec(text)?.[1]);
    expect(text.length - text.indexOf("\r\n\r\n") - 4).toBe(length);
    expect(events[0]).toBe("fin");
  });
});
