// A failure that reaches an adapter's last catch made no answer of its call;
// it is logged, never swallowed (src/transport/adapter-failure.ts). The Connect
// and M3O adapters serve a real port here, with a response whose writeHead
// throws, the way a bug in the answer path would.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { ConnectRouter } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Users } from "../../gen/users/v1/users_pb.js";
import { createLogger } from "../../src/observability/logger.js";
import type { KeysService } from "../../src/service/keys.js";
import { BodyBudget } from "../../src/transport/body-budget.js";
import { createM3oHandler } from "../../src/transport/m3o.js";
import { createRpcHandler } from "../../src/transport/rpc-adapter.js";

describe("failures that make no answer are logged", () => {
  const lines: Array<Record<string, unknown>> = [];
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = createLogger("debug", sink);
    const routes = (router: ConnectRouter) =>
      router.service(Users, { read: async (req) => ({ user: { id: req.id, username: "someone" } }) });
    const keys = { authenticate: async () => ({ id: "k", namespace: null, label: "", createdMs: 0, revokedMs: null }) };
    const bodies = new BodyBudget(1 << 20);
    const rpc = createRpcHandler({ routes, logger, bodies });
    const m3o = createM3oHandler({
      routes,
      maxBodyBytes: 4096,
      keys: keys as unknown as KeysService,
      logger,
      bodies,
    });
    server = http.createServer((req, res) => {
      res.writeHead = () => {
        throw new Error("writeHead broke");
      };
      (req.url?.startsWith("/users/Users/") ? m3o : rpc)(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test.each([
    ["rpc", "/users.v1.Users/Read", "application/json"],
    ["m3o", "/users/Users/Read", "application/json"],
  ])("%s: the error is logged with the path; the connection is closed", async (adapter, path, contentType) => {
    const answer = await new Promise<unknown>((resolve) => {
      const req = http.request(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": contentType, authorization: "Bearer a-key" },
        agent: false,
      });
      req.on("response", resolve);
      req.on("error", resolve);
      req.end('{"id": "someone"}');
    });
    // No answer: the connection is closed under the request.
    expect((answer as { code?: string }).code).toMatch(/^(ECONNRESET|ECONNREFUSED)$|socket hang up/);
    const line = lines.find((l) => l.adapter === adapter);
    expect(line).toMatchObject({ level: "error", msg: "answer failed unexpectedly", path });
    expect((line?.err as { message?: string })?.message).toContain("writeHead broke");
  });
});
