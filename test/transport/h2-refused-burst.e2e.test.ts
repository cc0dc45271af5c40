// Keyless HTTP/2 calls with bodies in flight cost each one its own stream,
// never the connection other calls share with them.
//
// Node's own http2 client (what most Node callers use) keeps the unsent rest
// of a body counted against its session memory when the server resets the
// stream after answering; once 10 MiB of those have added up (its default
// maxSessionMemory: fifty refused 200 kB bodies, however few at a time) it
// refuses the headers of every later answer on the session, a keyed call's
// included, with RST_STREAM(ENHANCE_YOUR_CALM). The server now reads and
// throws away the rest of a refused call's body (up to 1 MiB, as on
// HTTP/1.1) instead, so the client's bodies are sent to their end.
// (Fifty 200 kB bodies queued *at once* exceed that client's memory whatever
// the server does; the calls here go ten at a time.)
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

const BODY = Buffer.alloc(200_000, 0x41);

interface StreamEnd {
  status: string;
  rstCode: number | undefined;
}

/** One call on the session; resolves with its grpc-status (or HTTP status) and how its stream ended. */
function call(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  send: (stream: http2.ClientHttp2Stream) => void,
): Promise<StreamEnd> {
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", te: "trailers", ...headers });
    let status = "none";
    stream.on("response", (h) => (status = String(h["grpc-status"] ?? h[":status"])));
    stream.on("trailers", (h) => (status = String(h["grpc-status"] ?? status)));
    stream.on("data", () => undefined);
    stream.on("error", () => undefined);
    stream.on("close", () => resolve({ status, rstCode: stream.rstCode }));
    send(stream);
  });
}

describe.each(ENGINES)("HTTP/2: keyless bursts with bodies (%s)", (engine) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ engine });
  });
  afterAll(() => s.close());

  test("300 refused 200 kB bodies on one session, ten at a time: each answered Unauthenticated, a keyed call on the same session still answered", async () => {
    // Node's defaults, as a caller would have them (maxSessionMemory 10 MiB).
    const session = http2.connect(s.url);
    const goaway: number[] = [];
    session.on("goaway", (code) => goaway.push(code));
    session.on("error", () => undefined);
    try {
      // A keyed call whose body is still arriving while the burst goes on.
      const keyed = call(
        session,
        {
          ":path": "/users.v1.Users/Read",
          "content-type": "application/json",
          authorization: `Bearer ${s.adminKey}`,
        },
        (stream) => {
          stream.write('{"id":');
          setTimeout(() => stream.end('"nobody-here"}'), 1000);
        },
      );
      const refused: StreamEnd[] = [];
      for (let round = 0; round < 30; round++) {
        const burst = Array.from({ length: 10 }, () =>
          call(session, { ":path": "/users.v1.Users/Read", "content-type": "application/grpc" }, (stream) =>
            stream.end(BODY),
          ),
        );
        refused.push(...(await Promise.all(burst)));
      }
      // Every keyless call got its refusal (16: Unauthenticated), none a reset.
      const tally: Record<string, number> = {};
      for (const end of refused) {
        const key = `status ${end.status}, reset ${end.rstCode}`;
        tally[key] = (tally[key] ?? 0) + 1;
      }
      expect(tally).toEqual({ "status 16, reset 0": 300 });
      // The keyed call is answered (Connect: 404, no such user), and the session was never ended.
      expect(await keyed).toEqual({ status: "404", rstCode: 0 });
      expect(goaway).toEqual([]);
      expect(session.closed || session.destroyed).toBe(false);
    } finally {
      session.destroy();
    }
  }, 60_000);

  test("a refused body longer than 1 MiB is cut off with a reset of its own stream only", async () => {
    const session = http2.connect(s.url, { maxSessionMemory: 1000 });
    session.on("error", () => undefined);
    try {
      const big = await call(
        session,
        { ":path": "/users.v1.Users/Read", "content-type": "application/grpc" },
        (stream) => {
          stream.write(Buffer.alloc(3 * 1024 * 1024, 0x41));
        },
      );
      // The body never ends: past the bound the server stops taking it, and the stream closes.
      expect(big.status).toBe("16");
      const after = await call(
        session,
        {
          ":path": "/users.v1.Users/Search",
          "content-type": "application/json",
          authorization: `Bearer ${s.adminKey}`,
        },
        (stream) => stream.end("{}"),
      );
      expect(after).toEqual({ status: "200", rstCode: 0 });
    } finally {
      session.destroy();
    }
  }, 30_000);
});
