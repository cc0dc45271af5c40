// Expect: 100-continue over raw HTTP/1.1 sockets: the server invites a body
// only when it will read it. A call refused on its headers (no key, a declared
// size over MAX_BODY_BYTES) is answered without "100 Continue", so the client
// never sends the body, and the connection is closed; a keyed call is invited
// and served, on the Connect and the M3O paths.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

interface Exchange {
  /** Everything the server sent before the client decided whether to send the body. */
  beforeBody: string;
  /** Everything it sent in all. */
  all: string;
  closed: boolean;
}

/**
 * Sends headers with Expect: 100-continue, then the body only if the server
 * says 100 Continue (as curl does), and collects what comes back.
 */
function expectContinue(path: string, headers: Record<string, string>, body: string, declared = body.length) {
  return new Promise<Exchange>((resolve, reject) => {
    const socket = net.connect(t.port, "127.0.0.1");
    let all = "";
    let beforeBody: string | undefined;
    let closed = false;
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      all += chunk.toString("latin1");
      if (beforeBody === undefined) {
        beforeBody = all;
        if (all.startsWith("HTTP/1.1 100 Continue\r\n")) socket.write(body);
      }
    });
    socket.on("end", () => {
      closed = true;
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n${lines.join("")}Content-Length: ${declared}\r\n\r\n`,
    );
    setTimeout(() => {
      socket.destroy();
      resolve({ beforeBody: beforeBody ?? "", all, closed });
    }, 1500);
  });
}

describe("Expect: 100-continue", () => {
  test.each(["/users.v1.Users/Read", "/users/Users/Read"])(
    "%s without a key: 401 with no 100 Continue, the body never invited, the connection closed",
    async (path) => {
      const answer = await expectContinue(path, {}, `{"id":"${"x".repeat(900)}"}`);
      expect(answer.beforeBody).toMatch(/^HTTP\/1\.1 401 /);
      expect(answer.all).not.toContain("100 Continue");
      expect(answer.all.toLowerCase()).toContain("connection: close");
      expect(answer.closed).toBe(true);
    },
  );

  test("a keyed call declaring more than MAX_BODY_BYTES is refused without inviting the body", async () => {
    const answer = await expectContinue(
      "/users.v1.Users/Read",
      { authorization: `Bearer ${t.adminKey}` },
      "{}",
      t.config.maxBodyBytes + 1,
    );
    expect(answer.beforeBody).toMatch(/^HTTP\/1\.1 (413|429) /);
    expect(answer.all).not.toContain("100 Continue");
  });

  test.each(["/users.v1.Users/Search", "/users/Users/Search"])(
    "%s with a key: invited with 100 Continue, then served",
    async (path) => {
      const answer = await expectContinue(path, { authorization: `Bearer ${t.adminKey}` }, '{"limit": 1}');
      expect(answer.beforeBody).toBe("HTTP/1.1 100 Continue\r\n\r\n");
      expect(answer.all).toMatch(/\r\n\r\nHTTP\/1\.1 200 /);
      expect(answer.all).toContain("content-type: application/json");
    },
  );
});
