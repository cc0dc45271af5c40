// Graceful shutdown of the server process on SIGTERM: it stops accepting
// (new connections are refused, an open HTTP/2 connection takes no new call)
// while the calls already in flight (slow logins at a high bcrypt cost, over
// every protocol) each complete and are durable; then it closes the database
// and exits 0. Calls that cannot finish within SHUTDOWN_TIMEOUT_SECONDS do not
// hold it up: it exits 0 with them cut. Nothing here measures time: each claim
// is about the order in which things happen.
import fs from "node:fs";
import net from "node:net";
import { describe, expect, test } from "@jest/globals";
import { parseDatabaseUrl } from "../../src/storage/database-url.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { metricSample } from "./support/probes.js";
import { type RpcAnswer, rpc } from "./support/rpc.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";
import { grpcFrame, type Protocol, Wire } from "./support/wire.js";

const ADMIN_KEY = `shutdown-admin-${"k".repeat(30)}`;
const H = { authorization: `Bearer ${ADMIN_KEY}` };

/** Resolves once `count` calls are hashing or waiting to hash in the server. */
async function untilHashing(server: ServerProcess, count: number): Promise<void> {
  for (let tries = 0; ; tries++) {
    const busy =
      (await metricSample(server.url, "users_password_hash_running")) +
      (await metricSample(server.url, "users_password_hash_queue_waiting"));
    if (busy >= count) return;
    if (!server.alive()) throw new Error("the server died");
    if (tries > 2000) throw new Error(`expected ${count} calls hashing or waiting to, found ${busy}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves once a new TCP connection to the port is refused. */
async function untilRefused(port: number): Promise<void> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(false);
      });
      socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
    });
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.each(ENGINES)("graceful shutdown on SIGTERM (%s)", (engine) => {
  test("stops accepting, finishes every in-flight call (durably), closes the database and exits 0", async () => {
    const databaseUrl = await freshDatabaseUrl(engine);
    const env = {
      DATABASE_URL: databaseUrl,
      USERS_BOOTSTRAP_KEY: ADMIN_KEY,
      BCRYPT_COST: "12",
      HASH_CONCURRENCY: "1",
      SHUTDOWN_TIMEOUT_SECONDS: "120",
      // Attempts are charged to the account before their password is checked: allow six at once.
      LOGIN_MAX_FAILURES: "100",
    };
    let server = await startServerProcess(env);
    const wire = new Wire(server.url);
    try {
      expect(
        (
          await rpc(
            wire,
            "connect-json",
            "create",
            { username: "alice", email: "alice@example.com", password: "password-1" },
            H,
          )
        ).code,
      ).toBe("ok");

      // Slow logins over every protocol, one hashing at a time: in flight for a while.
      const protocols: Protocol[] = ["connect-json", "grpc", "grpc-web", "m3o", "connect-binary", "grpc"];
      let finished = 0;
      const inFlight = protocols.map((protocol) =>
        rpc(wire, protocol, "login", { username: "alice", password: "password-1" }, H).finally(() => finished++),
      );
      await untilHashing(server, protocols.length);

      server.child.kill("SIGTERM");
      await untilRefused(server.port);
      const unfinishedWhenRefusing = protocols.length - finished;
      // The HTTP/2 connection the gRPC calls ride on takes no new call either.
      const late = await rpc(wire, "grpc", "search", {}, H).then(
        (answer) => answer.code,
        () => "refused",
      );

      const answers: RpcAnswer[] = await Promise.all(inFlight);
      expect(answers.map((a) => a.code)).toEqual(protocols.map(() => "ok"));
      expect(unfinishedWhenRefusing).toBeGreaterThan(0);
      expect(late).not.toBe("ok");
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.output()).toMatch(/"msg":"stopped"/);
      // SQLite removes the write-ahead log when the last connection closes cleanly.
      const target = parseDatabaseUrl(databaseUrl);
      if (target.engine === "sqlite") expect(fs.existsSync(`${target.path}-wal`)).toBe(false);

      // What the finished calls wrote is there after a restart.
      server = await startServerProcess(env);
      const after = new Wire(server.url);
      try {
        for (const answer of answers) {
          const sessionId = (answer.json!.session as { id: string }).id;
          expect((await rpc(after, "connect-json", "readSession", { sessionId }, H)).code).toBe("ok");
        }
      } finally {
        after.close();
      }
      console.log(
        `graceful shutdown (${engine}): SIGTERM with ${protocols.length} logins in flight; new connections refused while ` +
          `${unfinishedWhenRefusing} were unfinished; all ${answers.length} completed and their sessions read back after a restart; exit 0`,
      );
    } finally {
      wire.close();
      await server.stop("SIGKILL");
    }
  }, 120_000);

  test("calls that cannot finish within SHUTDOWN_TIMEOUT_SECONDS are cut; the process still exits 0", async () => {
    // bcrypt cost 14, one hash at a time, eight logins: far more work than the 1 s grace.
    const server = await startServerProcess({
      DATABASE_URL: await freshDatabaseUrl(engine),
      USERS_BOOTSTRAP_KEY: ADMIN_KEY,
      BCRYPT_COST: "14",
      HASH_CONCURRENCY: "1",
      SHUTDOWN_TIMEOUT_SECONDS: "1",
    });
    const wire = new Wire(server.url);
    try {
      const logins = Array.from({ length: 8 }, (_, i) =>
        rpc(
          wire,
          i % 2 === 0 ? "grpc" : "connect-json",
          "login",
          { username: `nobody${i}`, password: "password-1" },
          H,
        ).then(
          (answer) => answer.code,
          () => "cut",
        ),
      );
      await untilHashing(server, 8);
      server.child.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
      const outcomes = await Promise.all(logins);
      // It did not wait for the work: most calls were cut when it exited.
      expect(outcomes.filter((o) => o === "cut").length).toBeGreaterThan(0);
      for (const o of outcomes) expect(["unauthenticated", "cut"]).toContain(o);
      expect(server.output()).toMatch(/"msg":"stopped"/);
    } finally {
      wire.close();
      await server.stop("SIGKILL");
    }
  }, 60_000);

  test("requests refused before their body was read (HTTP/2 and HTTP/1.1) do not hold up the shutdown", async () => {
    // A leaked in-flight request would make it wait this long (past the test's own timeout).
    const server = await startServerProcess({
      DATABASE_URL: await freshDatabaseUrl(engine),
      USERS_BOOTSTRAP_KEY: ADMIN_KEY,
      BCRYPT_COST: "4",
      MAX_BODY_BYTES: "65536",
      SHUTDOWN_TIMEOUT_SECONDS: "600",
    });
    const wire = new Wire(server.url);
    try {
      const oversized = grpcFrame(Buffer.alloc(2 * 1024 * 1024));
      expect((await wire.send("grpc", { method: "Search", body: oversized, headers: H })).code).toBe(
        "resource_exhausted",
      );
      const twoMessages = Buffer.concat([grpcFrame(Buffer.alloc(70_000)), Buffer.alloc(200_000)]);
      expect((await wire.send("grpc-web", { method: "Search", body: twoMessages, headers: H })).code).toBe(
        "resource_exhausted",
      );
      // The client keeps its connections open.
      server.child.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
    } finally {
      wire.close();
      await server.stop("SIGKILL");
    }
  });
});
