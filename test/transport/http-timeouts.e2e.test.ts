// The HTTP timeouts are settings (HTTP_HEADERS_TIMEOUT_SECONDS,
// HTTP_REQUEST_TIMEOUT_SECONDS, HTTP_KEEP_ALIVE_TIMEOUT_SECONDS,
// HTTP2_IDLE_TIMEOUT_SECONDS), here set to a second or two and checked on raw
// sockets; each check waits for far less than the defaults (30, 60, 65, 65 s),
// so it fails if the setting is not applied. And a request refused before its
// body was read (401), whose body then trickles in past the request timeout,
// gets a 408 before the connection closes, not a bare FIN: its 401 had let
// the client keep the connection.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startTestServer, type TestServer } from "../support/server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    env: {
      HTTP_HEADERS_TIMEOUT_SECONDS: "1",
      HTTP_REQUEST_TIMEOUT_SECONDS: "2",
      HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: "1",
      HTTP2_IDLE_TIMEOUT_SECONDS: "1",
    },
  });
});
afterAll(() => s.close());

/** What a raw connection receives until the server closes it (or `giveUpMs` passes: "(still open)" is appended). */
function converse(
  send: (socket: net.Socket) => void,
  giveUpMs = 10_000,
): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(s.port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedByServer: false });
    }, giveUpMs);
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closedByServer: true });
    });
    socket.on("connect", () => send(socket));
  });
}

describe("HTTP timeouts are settings", () => {
  test("HTTP_HEADERS_TIMEOUT_SECONDS: headers never finished get 408 and the connection is closed", async () => {
    const { text, closedByServer } = await converse((socket) => socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\n"));
    expect(closedByServer).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text.toLowerCase()).toContain("connection: close");
  });

  test("HTTP_REQUEST_TIMEOUT_SECONDS: a body that never ends gets 408 and the connection is closed", async () => {
    const { text, closedByServer } = await converse((socket) => {
      socket.write(
        `POST /users.v1.Users/Read HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${s.adminKey}\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{"id":`,
      );
    });
    expect(closedByServer).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
  });

  test("HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: an idle keep-alive connection is closed after its answer", async () => {
    const { text, closedByServer } = await converse((socket) =>
      socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"),
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(closedByServer).toBe(true);
  });

  test("HTTP2_IDLE_TIMEOUT_SECONDS: an HTTP/2 connection with no stream is closed", async () => {
    const session = http2.connect(s.url);
    session.on("error", () => undefined);
    const closed = new Promise<string>((resolve) => session.once("close", () => resolve("closed")));
    await new Promise((resolve) => session.once("connect", resolve));
    const waited = new Promise<string>((resolve) => setTimeout(() => resolve("still open"), 10_000).unref());
    expect(await Promise.race([closed, waited])).toBe("closed");
    session.destroy();
  });

  test("a 401 sent before a long body, whose rest trickles past the request timeout: 408, then the close", async () => {
    const { text, closedByServer } = await converse((socket) => {
      // No key: refused on its headers. 100,000 bytes declared (short enough to be thrown away, so
      // the 401 keeps the connection), 10 a second sent.
      socket.write(
        "POST /users.v1.Users/Read HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
      );
      const drip = setInterval(() => {
        if (socket.destroyed || !socket.writable) return clearInterval(drip);
        socket.write("xxxxxxxxxx");
      }, 100);
      socket.on("close", () => clearInterval(drip));
    });
    expect(closedByServer).toBe(true);
    const answers = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(answers).toEqual(["401", "408"]);
    // The 401 let the client keep the connection; the 408 says it is closing.
    const [first, second] = text.split(/(?=HTTP\/1\.1 408 )/);
    expect(first!.toLowerCase()).not.toContain("connection: close");
    expect(second!.toLowerCase()).toContain("connection: close");
  });
});
