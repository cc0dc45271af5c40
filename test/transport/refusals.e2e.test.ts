// Connection caps and requests refused before they become calls, on a real
// port. A connection over MAX_CONNECTIONS or MAX_CONNECTIONS_PER_ADDRESS is
// closed when accepted (nothing of it is read) and counted; other clients go
// on being served. A request answered by the transport or a route before any
// call began (an unknown path, a wrong method, a body over the limit, headers
// too large, a malformed request) gets one "refused" log line with the call
// lines' fields and a count in users_http_refusals_total{status}; calls keep
// their own lines and are never counted there.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** One sample of a metric, read from /metrics (0 when absent). */
async function sample(s: TestServer, series: string): Promise<number> {
  const text = (await httpRequest(`${s.url}/metrics`, { method: "GET" })).text;
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

interface Held {
  socket: net.Socket;
  /** Resolves with what the server sent, once it has closed the connection. */
  closed: Promise<string>;
}

/**
 * A connection from `from` that asks /healthz and is kept open (keep-alive).
 * Resolves once answered, or once closed unanswered (a refused connection).
 */
function healthConnection(port: number, from: string): Promise<Held & { answered: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress: from });
    let text = "";
    socket.on("error", () => undefined);
    const closed = new Promise<string>((done) => socket.on("close", () => done(text)));
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (text.includes('\r\n\r\n{"status":"alive"}')) resolve({ socket, closed, answered: true });
    });
    socket.on("close", () => resolve({ socket, closed, answered: false }));
    socket.on("connect", () => socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"));
  });
}

describe.each(ENGINES)("connection caps (%s)", (engine) => {
  describe("per address", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer({ engine, env: { MAX_CONNECTIONS_PER_ADDRESS: "3" } });
    });
    afterAll(() => s.close());

    test("a 4th connection from one address is closed at accept; other addresses are served; a freed place is taken again", async () => {
      const held = await Promise.all([1, 2, 3].map(() => healthConnection(s.port, "127.0.0.2")));
      expect(held.map((h) => h.answered)).toEqual([true, true, true]);
      const fourth = await healthConnection(s.port, "127.0.0.2");
      expect(fourth.answered).toBe(false);
      expect(await fourth.closed).toBe("");
      // Another address is not affected.
      expect((await healthConnection(s.port, "127.0.0.3")).answered).toBe(true);
      expect(await sample(s, 'users_connections_refused_total{limit="address"}')).toBe(1);
      expect(await sample(s, 'users_connections_refused_total{limit="server"}')).toBe(0);

      held[0]!.socket.destroy();
      await held[0]!.closed;
      // The server sees the close a moment later: the place is free once it has.
      let again = await healthConnection(s.port, "127.0.0.2");
      for (let i = 0; !again.answered && i < 50; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        again = await healthConnection(s.port, "127.0.0.2");
      }
      expect(again.answered).toBe(true);
      for (const h of [...held, again]) h.socket.destroy();
    });
  });

  describe("whole server", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer({ engine, env: { MAX_CONNECTIONS: "3", MAX_CONNECTIONS_PER_ADDRESS: "0" } });
    });
    afterAll(() => s.close());

    test("past MAX_CONNECTIONS a connection is closed at accept, from any address, and counted", async () => {
      const held = await Promise.all(["127.0.0.2", "127.0.0.3", "127.0.0.4"].map((a) => healthConnection(s.port, a)));
      expect(held.map((h) => h.answered)).toEqual([true, true, true]);
      const over = await healthConnection(s.port, "127.0.0.5");
      expect([over.answered, await over.closed]).toEqual([false, ""]);
      for (const h of held) h.socket.destroy();
      await Promise.all(held.map((h) => h.closed));
      let count = 0;
      for (let i = 0; i < 50 && count === 0; i++) {
        try {
          count = await sample(s, 'users_connections_refused_total{limit="server"}');
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      expect(count).toBe(1);
    });
  });
});

describe.each(ENGINES)("requests refused before they become calls (%s)", (engine) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ engine, env: { MAX_BODY_BYTES: "1024" } });
  });
  afterAll(() => s.close());

  const refusedLines = (from: number) =>
    s.logs
      .slice(from)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "refused");

  /** Runs `act`; the refused lines it logged and what it added to users_http_refusals_total{status}. */
  async function refusal(status: number, act: () => Promise<unknown>) {
    const series = `users_http_refusals_total{status="${status}"}`;
    const before = await sample(s, series);
    const from = s.logs.length;
    await act();
    return { lines: refusedLines(from), counted: (await sample(s, series)) - before };
  }

  const admin = () => ({ authorization: `Bearer ${s.adminKey}` });

  test.each([
    [404, "http", "an unknown path", () => httpRequest(`${s.url}/no/such/path`, { body: "{}" })],
    [404, "connect", "an unknown RPC", () => httpRequest(`${s.url}/users.v1.Users/Nope`, { body: "{}" })],
    [405, "m3o", "GET on an M3O path", () => httpRequest(`${s.url}/users/Users/Search`, { method: "GET" })],
    [
      413,
      "m3o",
      "an M3O body over MAX_BODY_BYTES",
      () => httpRequest(`${s.url}/users/Users/Search`, { headers: admin(), body: " ".repeat(2048) }),
    ],
    [
      429,
      "connect",
      "a Connect body over MAX_BODY_BYTES",
      () =>
        httpRequest(`${s.url}/users.v1.Users/Search`, {
          headers: { ...admin(), "content-type": "application/json" },
          body: " ".repeat(2048),
        }),
    ],
  ] as Array<[number, string, string, () => Promise<unknown>]>)(
    "%s (%s, %s): one refused line with the call lines' fields, and counted",
    async (status, protocol, _what, act) => {
      const { lines, counted } = await refusal(status, act);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: "info", protocol, status, code: `http_${status}` });
      expect(lines[0]!.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(typeof lines[0]!.duration_ms).toBe("number");
      expect(counted).toBe(1);
    },
  );

  test("431 and 400 from the HTTP/1.1 parser: answered with Connection: close, logged and counted", async () => {
    for (const [status, head] of [
      [431, `GET /healthz HTTP/1.1\r\nhost: x\r\nx-padding: ${"a".repeat(20_000)}\r\n\r\n`],
      [400, "NOT AN HTTP REQUEST\r\n\r\n"],
    ] as Array<[number, string]>) {
      const { lines, counted } = await refusal(status, async () => {
        const socket = net.connect(s.port, "127.0.0.1");
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
        socket.on("error", () => undefined);
        socket.write(head);
        await new Promise((resolve) => socket.on("close", resolve));
        expect(text).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
        expect(text.toLowerCase()).toContain("\r\nconnection: close\r\n");
      });
      expect(lines).toEqual([expect.objectContaining({ status, protocol: "http" })]);
      expect(counted).toBe(1);
    }
  });

  test("over HTTP/2 too: an unknown path is refused, logged and counted", async () => {
    const { lines, counted } = await refusal(404, async () => {
      const session = http2.connect(s.url);
      try {
        const stream = session.request({ ":method": "POST", ":path": "/users.v1.Users/Nope" });
        stream.end("{}");
        stream.resume();
        expect(await new Promise((resolve) => stream.on("response", (h) => resolve(h[":status"])))).toBe(404);
        await new Promise((resolve) => stream.on("close", resolve));
      } finally {
        session.close();
      }
    });
    expect(lines).toEqual([expect.objectContaining({ status: 404, protocol: "connect" })]);
    expect(counted).toBe(1);
  });

  test("calls are not refusals: a call refused on its key has its call line only", async () => {
    const { lines, counted } = await refusal(401, () =>
      httpRequest(`${s.url}/users.v1.Users/Search`, { headers: { "content-type": "application/json" }, body: "{}" }),
    );
    expect(lines).toEqual([]);
    expect(counted).toBe(0);
    const probes = await refusal(404, () => httpRequest(`${s.url}/healthz`, { method: "GET" }));
    expect([probes.lines, probes.counted]).toEqual([[], 0]);
  });
});
