// Hashing never starves the service: bcrypt runs on the thread pool behind a
// bounded queue. When the queue is full, Login, Create and UpdatePassword are
// refused at once with ResourceExhausted (they return while every hashing slot
// is still held, so they did not wait), and Read, ReadSession and Search keep
// answering while a flood of logins keeps both cores hashing: every one of
// them succeeds before the flood is over. No wall-clock thresholds: only the
// order in which things finish.

import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { holdHashing, untilHashWaiting } from "../support/hashing.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { type Method, type RpcAnswer, rpc } from "./support/rpc.js";
import { PROTOCOLS, type Protocol, Wire } from "./support/wire.js";

const BUSY = "the service is busy hashing passwords; retry shortly";

describe.each(ENGINES)("a full hashing queue refuses at once (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  let userId: string;

  beforeAll(async () => {
    // One hash at a time, two waiting: a test holding the slot decides when hashing proceeds.
    t = await startTestServer({ engine, env: { HASH_CONCURRENCY: "1", HASH_QUEUE_MAX: "2" } });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
    const created = await rpc(
      wire,
      "connect-json",
      "create",
      { username: "alice", email: "alice@example.com", password: "password-1" },
      admin,
    );
    userId = (created.json!.user as { id: string }).id;
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  const HASHING_CALLS: Array<[Method, (n: string) => JsonObject]> = [
    ["login", () => ({ username: "alice", password: "password-1" })],
    ["create", (n) => ({ username: `new-${n}`, email: `new-${n}@example.com`, password: "password-1" })],
    [
      "updatePassword",
      () => ({ userId, oldPassword: "password-1", newPassword: "password-2", confirmPassword: "password-2" }),
    ],
  ];

  test.each(PROTOCOLS)(
    "%s: Login, Create and UpdatePassword are refused with ResourceExhausted while the queue is full",
    async (protocol) => {
      const release = holdHashing(t.server.hasher.queue);
      const queued = [1, 2].map(() => rpc(wire, "grpc", "login", { username: "alice", password: "password-1" }, admin));
      try {
        await untilHashWaiting(t.server.hasher.queue, 2);
        for (const [method, request] of HASHING_CALLS) {
          const refused: RpcAnswer = await rpc(wire, protocol, method, request(protocol.replace(/\W/g, "")), admin);
          expect({
            protocol,
            method,
            code: refused.code,
            message: refused.message,
            retryAfter: refused.headers["retry-after"],
          }).toEqual({
            protocol,
            method,
            code: "resource_exhausted",
            message: BUSY,
            retryAfter: "1",
          });
          if (protocol === "connect-json" || protocol === "connect-binary" || protocol === "m3o")
            expect(refused.httpStatus).toBe(429);
        }
        // Calls that need no hashing are served meanwhile.
        expect((await rpc(wire, protocol, "read", { id: userId }, admin)).code).toBe("ok");
      } finally {
        release();
      }
      for (const answer of await Promise.all(queued)) expect(answer.code).toBe("ok");
    },
  );
});

describe.each(ENGINES)("cheap calls keep answering while logins saturate the CPU (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  /** The flood comes over two HTTP/2 connections (each allows 100 concurrent streams). */
  let floodWires: Wire[];
  let admin: Record<string, string>;

  beforeAll(async () => {
    // Cost 9 (tens of ms per hash) on every core, with 40 waiting at most.
    t = await startTestServer({ engine, env: { BCRYPT_COST: "9", HASH_QUEUE_MAX: "40" } });
    wire = new Wire(t.url);
    floodWires = [new Wire(t.url), new Wire(t.url)];
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    for (const w of floodWires) w.close();
    await t.close();
  });

  test("every Read, ReadSession and Search succeeds before a flood of logins is over; the excess logins are refused", async () => {
    const created = await rpc(
      wire,
      "connect-json",
      "create",
      { username: "alice", email: "alice@example.com", password: "password-1" },
      admin,
    );
    const userId = (created.json!.user as { id: string }).id;
    const session = await rpc(wire, "connect-json", "login", { username: "alice", password: "password-1" }, admin);
    const sessionId = (session.json!.session as { id: string }).id;

    // More logins than can run or wait: a slot per core + 40 waiting, 30 beyond.
    const queue = t.server.hasher.queue;
    const floodSize = queue.concurrency + queue.maxWaiting + 30;
    let floodFinished = 0;
    const flood = Array.from({ length: floodSize }, (_, i) =>
      // Each for another (unknown) account, so per-account throttling stays out of the way.
      rpc(floodWires[i % 2]!, "grpc", "login", { username: `flood${i}`, password: "password-1" }, admin).then(
        (answer) => {
          floodFinished++;
          return { answer, finishedWhileFlooding: floodFinished < floodSize };
        },
      ),
    );
    // Places taken by logins still on their way to hashing (the throttle's slot) are in the queue too.
    for (let tries = 0; queue.stats().waiting + queue.reservedPlaces() < queue.maxWaiting; tries++) {
      if (tries > 5000) throw new Error(`the flood never filled the queue (${JSON.stringify(queue.stats())})`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }

    const reads: Array<[Protocol, Method, JsonObject]> = [];
    for (let i = 0; i < 30; i++) {
      const protocol = PROTOCOLS[i % PROTOCOLS.length]!;
      reads.push(
        [protocol, "readSession", { sessionId }],
        [protocol, "read", { id: userId }],
        [protocol, "search", { username: "al" }],
      );
    }
    const answers: RpcAnswer[] = [];
    // Ten at a time, as a handful of busy clients would call.
    for (let i = 0; i < reads.length; i += 10) {
      answers.push(...(await Promise.all(reads.slice(i, i + 10).map(([p, m, r]) => rpc(wire, p, m, r, admin)))));
    }
    const stillHashing = queue.stats();
    const finishedBeforeReads = floodFinished;

    const outcomes = await Promise.all(flood);
    console.log(
      `hashing flood (${engine}): ${floodSize} logins (${outcomes.filter((o) => o.answer.code === "unauthenticated").length} served, ` +
        `${outcomes.filter((o) => o.answer.code === "resource_exhausted").length} refused); ${answers.length} reads all answered ` +
        `while ${floodSize - finishedBeforeReads} logins were still in flight (${stillHashing.running} hashing, ${stillHashing.waiting} waiting)`,
    );
    expect(answers.map((a) => a.code)).toEqual(answers.map(() => "ok"));
    // The reads were done while the flood was still hashing.
    expect(finishedBeforeReads).toBeLessThan(floodSize);
    expect(stillHashing.running).toBeGreaterThan(0);
    // The flood itself: what fit in the queue was served, the rest refused at once (before the flood ended).
    const served = outcomes.filter((o) => o.answer.code === "unauthenticated");
    const refused = outcomes.filter((o) => o.answer.code === "resource_exhausted");
    expect(served.length + refused.length).toBe(floodSize);
    expect(served.length).toBeGreaterThanOrEqual(queue.concurrency + queue.maxWaiting);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect([r.answer.message, r.finishedWhileFlooding]).toEqual([BUSY, true]);
    }
  }, 60_000);
});
