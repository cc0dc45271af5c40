// The listener's limits on a real port with short limits. HTTP/2, with a real
// HTTP/2 client: a request that never ends is reset, an idle session is
// closed, and a session with a call in progress is kept however quiet.
// HTTP/1.1, over raw sockets: trickled headers and bodies are cut with 408.
// (The HTTP/1.1 deadlines used to be passed to Node's http.Server only, which
// never applies them to sockets it receives by emit("connection"), and
// nothing here sent HTTP/1.1: the limits looked tested and were not.)
import http2 from "node:http2";
import net from "node:net";
import { afterEach, describe, expect, test } from "@jest/globals";
import { Listener, type Refusal, type RequestHandler } from "../../src/transport/listener.js";

const LIMITS = {
  maxHeaderBytes: 16 * 1024,
  maxConcurrentStreams: 100,
  keepAliveTimeoutMs: 300,
  headersTimeoutMs: 300,
  requestTimeoutMs: 300,
};

let listener: Listener | undefined;
let client: http2.ClientHttp2Session | undefined;

afterEach(async () => {
  client?.destroy();
  await listener?.close(100);
  listener = client = undefined;
});

async function start(handler: RequestHandler): Promise<http2.ClientHttp2Session> {
  listener = new Listener(handler, LIMITS);
  const { port } = await listener.listen(0, "127.0.0.1");
  client = http2.connect(`http://127.0.0.1:${port}`);
  client.on("error", () => undefined);
  return client;
}

/** Reads the request to its end, then answers after `delayMs`. */
const echoAfter =
  (delayMs: number): RequestHandler =>
  (req, res) => {
    req.resume();
    req.on("end", () => setTimeout(() => res.end("done"), delayMs));
  };

/** Sends a whole small request and reads the whole answer. */
function postAndRead(session: http2.ClientHttp2Session, path: string): Promise<string> {
  const stream = session.request({ ":method": "POST", ":path": path });
  stream.end("{}");
  let body = "";
  stream.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
  return new Promise((resolve) => stream.on("end", () => resolve(body)));
}

describe("HTTP/2 limits", () => {
  test("a request whose body never ends is reset, and the session lives on", async () => {
    const session = await start(echoAfter(0));
    const stream = session.request({ ":method": "POST", ":path": "/slow" });
    stream.write("{"); // and never more
    const rstCode = await new Promise<number>((resolve) => stream.on("close", () => resolve(stream.rstCode)));
    expect(rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(session.closed).toBe(false);

    // The same session still serves a complete request.
    expect(await postAndRead(session, "/next")).toBe("done");
  });

  test("a header list over maxHeaderBytes is refused with 431 before any handler, and the session lives on", async () => {
    let handled = 0;
    const session = await start((req, res) => {
      handled++;
      echoAfter(0)(req, res);
    });
    // Node's client sends it although the server advertised a smaller limit.
    const big = session.request({ ":method": "POST", ":path": "/big", "x-big": "a".repeat(20 * 1024) });
    big.end("{}");
    const status = await new Promise<number>((resolve) => big.on("response", (h) => resolve(Number(h[":status"]))));
    big.resume();
    expect(status).toBe(431);
    expect(handled).toBe(0);
    // Within the limit, on the same session: served.
    const fits = session.request({ ":method": "POST", ":path": "/fits", "x-fits": "a".repeat(8 * 1024) });
    fits.end("{}");
    let body = "";
    fits.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    await new Promise((resolve) => fits.on("end", resolve));
    expect(body).toBe("done");
    expect(handled).toBe(1);
  });

  test("a session with no stream is closed once idle", async () => {
    const session = await start(echoAfter(0));
    const goaway = new Promise<void>((resolve) => session.on("goaway", () => resolve()));
    await new Promise((resolve) => session.on("close", resolve));
    await goaway;
  });

  test("a quiet session with a call in progress is kept, and the answer arrives", async () => {
    // The answer comes after several idle periods with no frame on the connection.
    const session = await start(echoAfter(1_200));
    let goaway = false;
    session.on("goaway", () => (goaway = true));
    expect(await postAndRead(session, "/watch")).toBe("done");
    expect(goaway).toBe(false);
  });
});

// HTTP/1.1 sockets reach the HTTP/1.1 server from the sniffing listener by
// emit("connection"), so Node's own headersTimeout/requestTimeout (armed only
// for a server that listens itself) never apply: the listener keeps its own
// per-request deadlines. Checked over raw sockets, as a slow client sends.
const H1_LIMITS = { ...LIMITS, keepAliveTimeoutMs: 5_000, headersTimeoutMs: 400, requestTimeoutMs: 900 };

interface Trickled {
  /** Everything the server sent back. */
  answer: string;
  /** Whether the server closed the connection before the client had sent every part. */
  cutEarly: boolean;
  /** How many parts were written before the server closed the connection (or all of them). */
  sent: number;
}

/** Writes each part `gapMs` after the last on one connection; resolves when the server closes it, or once all are sent and 1 s more has passed. */
function trickle(port: number, parts: string[], gapMs: number): Promise<Trickled> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (cutEarly: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer, cutEarly, sent });
    };
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => finish(sent < parts.length));
    const next = () => {
      if (socket.destroyed) return;
      if (sent === parts.length) {
        timer = setTimeout(() => finish(false), 1_000);
        return;
      }
      socket.write(parts[sent++]!);
      timer = setTimeout(next, gapMs);
    };
    socket.once("connect", next);
  });
}

/** A request head split into one part per header line, and `extra` more header lines after the first. */
function headLines(extra: number): string[] {
  return ["POST /echo HTTP/1.1\r\n", "host: x\r\n", ...Array.from({ length: extra }, (_, i) => `x-slow-${i}: y\r\n`)];
}

let refusals: Refusal[] = [];

async function startH1(handler: RequestHandler): Promise<number> {
  refusals = [];
  listener = new Listener(handler, H1_LIMITS, { onRefusal: (r) => refusals.push(r) });
  return (await listener.listen(0, "127.0.0.1")).port;
}

/** Answers /healthz at once; reads any other request's body to its end, then answers "done". */
const healthOrEcho: RequestHandler = (req, res) => {
  if (req.url === "/healthz") return void res.end("ok");
  echoAfter(0)(req, res);
};

describe("HTTP/1.1 deadlines (raw sockets)", () => {
  test("headers trickled past headersTimeoutMs get 408 with Connection: close, and the connection is closed", async () => {
    const port = await startH1(healthOrEcho);
    const result = await trickle(port, headLines(40), 100);
    expect(result.cutEarly).toBe(true);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(result.answer.toLowerCase()).toContain("\r\nconnection: close\r\n");
    // Told of as a refusal (a log line and a metric in the server).
    expect(refusals).toEqual([expect.objectContaining({ status: 408, httpVersion: "1.1" })]);
  });

  test("a body trickled past requestTimeoutMs after complete headers gets 408, and the connection is closed", async () => {
    const port = await startH1(healthOrEcho);
    const head = "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n";
    const result = await trickle(port, [head, ...Array.from({ length: 100 }, () => "x")], 100);
    expect(result.cutEarly).toBe(true);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(result.answer.toLowerCase()).toContain("\r\nconnection: close\r\n");
  });

  test("a slow client within the limits is served, twice on one connection", async () => {
    const port = await startH1(healthOrEcho);
    const request = ["POST /echo HTTP/1.1\r\n", "host: x\r\n", "content-length: 2\r\n\r\n", "{", "}"];
    // Each request takes about 4 × 60 ms: well within both limits, however slow the machine.
    const result = await trickle(port, [...request, ...request], 60);
    expect(result.cutEarly).toBe(false);
    expect([...result.answer.matchAll(/HTTP\/1\.1 200 OK\r\n/g)]).toHaveLength(2);
    expect(result.answer).not.toMatch(/408/);
  });

  test("a connection idle between requests is not cut by the request deadlines (only by keep-alive)", async () => {
    const port = await startH1(healthOrEcho);
    const request = "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}";
    // The pause between the two requests is longer than both deadlines.
    const result = await trickle(port, [request, "", "", "", "", "", "", request], 250);
    expect(result.cutEarly).toBe(false);
    expect([...result.answer.matchAll(/HTTP\/1\.1 200 OK\r\n/g)]).toHaveLength(2);
  });

  test("many trickling connections are all cut, and /healthz answers meanwhile", async () => {
    const port = await startH1(healthOrEcho);
    const slow = Array.from({ length: 150 }, () => trickle(port, headLines(40), 100));
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, "ok"]);
    const results = await Promise.all(slow);
    const notCut = results.filter((r) => !r.cutEarly || !r.answer.startsWith("HTTP/1.1 408 "));
    expect(notCut.length).toBe(0);
    const after = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(after.status).toBe(200);
  });
});
