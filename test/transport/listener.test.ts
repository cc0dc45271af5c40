// The listener's HTTP/2 limits, on a real port with a real HTTP/2 client and
// short limits: a request that never ends is reset, an idle session is
// closed, and a session with a call in progress is kept however quiet.
import http2 from "node:http2";
import { afterEach, describe, expect, test } from "@jest/globals";
import { Listener, type RequestHandler } from "../../src/transport/listener.js";

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
