// Per-account throttling of password guesses, on the real port over every
// protocol: after LOGIN_MAX_FAILURES failures an account is refused with
// ResourceExhausted and a retry delay (retry-after) that doubles from 1 s up
// to 15 min, without any bcrypt work; a success resets the count; only
// failures count, so simultaneous correct logins all succeed while a burst of
// guesses still gets no more than the limit's checks; unknown accounts behave
// exactly like known ones; guesses at one user through username, email and
// UpdatePassword share one budget; two replicas on one database share the
// counts. Time is moved with the server's clock option, never waited for.

import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { THROTTLE_MEMORY_MS } from "../../src/service/login-throttle.js";
import { TestClock } from "../support/clock.js";
import { ENGINES } from "../support/databases.js";
import { grpcUsersClient } from "../support/grpc-js.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { bcryptRuns } from "./support/probes.js";
import { type Method, type RpcAnswer, rpc } from "./support/rpc.js";
import { PROTOCOLS, type Protocol, Wire } from "./support/wire.js";

const PASSWORD = "correct-horse-1";
const WRONG = "wrong-guess-1";
/** Default LOGIN_MAX_FAILURES, LOGIN_LOCKOUT_BASE_SECONDS and LOGIN_LOCKOUT_MAX_SECONDS. */
const MAX_FAILURES = 5;
const CEILING_SECONDS = 900;

describe.each(ENGINES)("per-account login throttling (%s)", (engine) => {
  const clock = new TestClock();
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  let ns = 0;

  beforeAll(async () => {
    t = await startTestServer({ engine, now: clock.now });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  /** A fresh namespace per test, so accounts and their counts never carry over. */
  function tenant(): Record<string, string> {
    return { ...admin, "micro-namespace": `throttle-${++ns}` };
  }
  const call = (protocol: Protocol, method: Method, request: JsonObject, headers: Record<string, string>, via = wire) =>
    rpc(via, protocol, method, request, headers);
  const login = (
    headers: Record<string, string>,
    password: string,
    protocol: Protocol = "connect-json",
    username = "alice",
  ) => call(protocol, "login", { username, password }, headers);
  async function createAlice(headers: Record<string, string>): Promise<string> {
    const created = await call(
      "connect-json",
      "create",
      { username: "alice", email: "alice@example.com", password: PASSWORD },
      headers,
    );
    expect(created.code).toBe("ok");
    return (created.json!.user as { id: string }).id;
  }

  function expectThrottled(protocol: Protocol, answer: RpcAnswer, seconds: number): void {
    expect({ protocol, code: answer.code, message: answer.message, retryAfter: answer.headers["retry-after"] }).toEqual(
      {
        protocol,
        code: "resource_exhausted",
        message: `too many failed attempts for this account; retry in ${seconds} s`,
        retryAfter: String(seconds),
      },
    );
    if (protocol === "connect-json" || protocol === "connect-binary" || protocol === "m3o")
      expect(answer.httpStatus).toBe(429);
  }
  async function fail(headers: Record<string, string>, times: number, username = "alice"): Promise<void> {
    for (let i = 0; i < times; i++)
      expect((await login(headers, WRONG, "connect-json", username)).code).toBe("unauthenticated");
  }

  test("after 5 failures every attempt is refused, on every protocol, with retry-after, and no bcrypt runs", async () => {
    const h = tenant();
    await createAlice(h);
    await fail(h, MAX_FAILURES);
    const before = await bcryptRuns(t.url);
    // Even the right password is refused while the lock lasts.
    for (const protocol of PROTOCOLS) {
      expectThrottled(protocol, await login(h, PASSWORD, protocol), 1);
      expectThrottled(protocol, await login(h, WRONG, protocol), 1);
    }
    expect(await bcryptRuns(t.url)).toEqual(before);
  });

  test("gRPC clients get the delay as retry-after metadata", async () => {
    const h = tenant();
    await createAlice(h);
    await fail(h, MAX_FAILURES);
    const grpc = grpcUsersClient(`127.0.0.1:${t.port}`);
    try {
      const refused = await grpc.fail("Login", { username: "alice", password: PASSWORD }, h);
      expect(refused.code).toBe(8); // RESOURCE_EXHAUSTED
      expect(refused.message).toBe("too many failed attempts for this account; retry in 1 s");
      expect(refused.metadata.get("retry-after")).toEqual(["1"]);
    } finally {
      grpc.close();
    }
  });

  test("the delay doubles with each further failure from 1 s and stops growing at 15 min", async () => {
    const h = tenant();
    await createAlice(h);
    await fail(h, MAX_FAILURES);
    const seen: number[] = [];
    let delay = 1;
    for (let round = 0; round < 13; round++) {
      const protocol = PROTOCOLS[round % PROTOCOLS.length]!;
      const refused = await login(h, PASSWORD, protocol);
      expectThrottled(protocol, refused, delay);
      seen.push(delay);
      // A moment before the end the lock still holds, with the rest of the delay to wait.
      if (delay > 1) {
        clock.advance(delay - 1);
        expectThrottled(protocol, await login(h, PASSWORD, protocol), 1);
        clock.advance(1);
      } else clock.advance(delay);
      // Once it ends, one more guess is allowed; it fails and doubles the delay.
      expect((await login(h, WRONG, protocol)).code).toBe("unauthenticated");
      delay = Math.min(delay * 2, CEILING_SECONDS);
    }
    expect(seen).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
  });

  test("a success resets the count", async () => {
    const h = tenant();
    await createAlice(h);
    await fail(h, MAX_FAILURES - 1);
    expect((await login(h, PASSWORD)).code).toBe("ok");
    // Four more failures are again below the limit: the fifth attempt is still checked.
    await fail(h, MAX_FAILURES - 1);
    expect((await login(h, PASSWORD)).code).toBe("ok");

    // After a lock has run out, a success also forgets every failure before it.
    await fail(h, MAX_FAILURES);
    expectThrottled("connect-json", await login(h, PASSWORD), 1);
    clock.advance(1);
    expect((await login(h, PASSWORD)).code).toBe("ok");
    await fail(h, MAX_FAILURES - 1);
    expect((await login(h, PASSWORD)).code).toBe("ok");
  });

  test("a count is forgotten after 24 h without a failure (when the sweeper runs)", async () => {
    const h = tenant();
    await createAlice(h);
    await fail(h, MAX_FAILURES);
    expectThrottled("connect-json", await login(h, PASSWORD), 1);
    // Just under a day later the count is still there: one more failure locks again, for longer.
    clock.advance(24 * 3600 - 1);
    await t.server.repo.sweep(clock.now(), clock.now() - THROTTLE_MEMORY_MS, 1000);
    await fail(h, 1);
    expectThrottled("connect-json", await login(h, PASSWORD), 2);
    // A day after the last failure the sweeper (run here by hand: its timer ticks each minute) forgets it.
    clock.advance(24 * 3600 + 1);
    await t.server.repo.sweep(clock.now(), clock.now() - THROTTLE_MEMORY_MS, 1000);
    await fail(h, MAX_FAILURES - 1);
    expect((await login(h, PASSWORD)).code).toBe("ok");
  });

  test("unknown accounts are throttled exactly like known ones: same answers at every step", async () => {
    const h = tenant();
    await createAlice(h);
    const steps = async (username: string) => {
      const answers: Array<[string, string, string | undefined]> = [];
      for (let i = 0; i < MAX_FAILURES + 2; i++) {
        const a = await login(h, WRONG, "connect-json", username);
        answers.push([a.code, a.message, a.headers["retry-after"]]);
      }
      clock.advance(1);
      const a = await login(h, WRONG, "connect-json", username);
      answers.push([a.code, a.message, a.headers["retry-after"]]);
      const b = await login(h, WRONG, "connect-json", username);
      answers.push([b.code, b.message, b.headers["retry-after"]]);
      return answers;
    };
    const known = await steps("alice");
    const unknown = await steps("nobody-here");
    expect(unknown).toEqual(known);
    expect(known.map(([code]) => code)).toEqual([
      ...Array<string>(MAX_FAILURES).fill("unauthenticated"),
      "resource_exhausted",
      "resource_exhausted",
      "unauthenticated",
      "resource_exhausted",
    ]);
  });

  test("the account is the identifier as typed, normalised: any letter case counts for the same username", async () => {
    const h = tenant();
    await call("connect-json", "create", { username: "bob", email: "bob@example.com", password: PASSWORD }, h);
    // An unknown name: only what was typed is counted.
    for (const typed of ["ALICE", "Alice", "alice", "aLiCe", "ALICe"]) await fail(h, 1, typed);
    expectThrottled("connect-json", await login(h, PASSWORD, "connect-json", "alice"), 1);
    // Another account (an unknown email, a known user) is not locked by it.
    expect((await call("connect-json", "login", { email: "ALICE@example.com", password: WRONG }, h)).code).toBe(
      "unauthenticated",
    );
    expect((await login(h, PASSWORD, "connect-json", "bob")).code).toBe("ok");
  });

  test("guesses at one user through username, email and UpdatePassword share one budget of LOGIN_MAX_FAILURES", async () => {
    const h = tenant();
    const id = await createAlice(h);
    const before = await bcryptRuns(t.url);
    expect((await login(h, WRONG, "connect-json", "ALICE")).code).toBe("unauthenticated");
    expect((await login(h, WRONG, "grpc", "alice")).code).toBe("unauthenticated");
    for (const email of ["alice@example.com", "Alice@Example.com"]) {
      expect((await call("m3o", "login", { email, password: WRONG }, h)).code).toBe("unauthenticated");
    }
    const change = { userId: id, oldPassword: WRONG, newPassword: "new-password-1", confirmPassword: "new-password-1" };
    expect((await call("connect-json", "updatePassword", change, h)).code).toBe("unauthenticated");
    expect((await bcryptRuns(t.url)).verify - before.verify).toBe(MAX_FAILURES);
    // Five guesses in all: the user is locked whatever identifier is typed, right password or not.
    expectThrottled("connect-json", await login(h, PASSWORD), 1);
    expectThrottled("grpc", await call("grpc", "login", { email: "alice@example.com", password: PASSWORD }, h), 1);
    expectThrottled("m3o", await call("m3o", "updatePassword", { ...change, oldPassword: PASSWORD }, h), 1);
    expect((await bcryptRuns(t.url)).verify - before.verify).toBe(MAX_FAILURES);
    // Once the lock ends, a success by email clears the user's count.
    clock.advance(1);
    expect((await call("connect-json", "login", { email: "alice@example.com", password: PASSWORD }, h)).code).toBe(
      "ok",
    );
    expect((await call("connect-json", "updatePassword", { ...change, oldPassword: PASSWORD }, h)).code).toBe("ok");
  });

  test("replicas on one database share the counts", async () => {
    const replica = await startTestServer({ databaseUrl: t.config.databaseUrl, now: clock.now });
    const replicaWire = new Wire(replica.url);
    try {
      const h = tenant();
      await createAlice(h);
      const other = { ...h, authorization: `Bearer ${replica.adminKey}` };
      // Failures alternate between the two replicas; both see all of them.
      for (let i = 0; i < MAX_FAILURES; i++) {
        const answer =
          i % 2 === 0
            ? await login(h, WRONG)
            : await call("grpc", "login", { username: "alice", password: WRONG }, other, replicaWire);
        expect(answer.code).toBe("unauthenticated");
      }
      expectThrottled("connect-json", await login(h, PASSWORD), 1);
      expectThrottled(
        "grpc",
        await call("grpc", "login", { username: "alice", password: PASSWORD }, other, replicaWire),
        1,
      );
      // A success on one replica clears the count for both.
      clock.advance(1);
      expect((await call("m3o", "login", { username: "alice", password: PASSWORD }, other, replicaWire)).code).toBe(
        "ok",
      );
      await fail(h, MAX_FAILURES - 1);
      expect((await login(h, PASSWORD)).code).toBe("ok");
    } finally {
      replicaWire.close();
      await replica.close();
    }
  });

  test("UpdatePassword's old-password check is throttled per user, without bcrypt, with Login's budget", async () => {
    const h = tenant();
    const id = await createAlice(h);
    const change = (old: string, to: string, protocol: Protocol = "connect-json") =>
      call(protocol, "updatePassword", { userId: id, oldPassword: old, newPassword: to, confirmPassword: to }, h);
    for (let i = 0; i < MAX_FAILURES; i++) {
      const wrong = await change(WRONG, "new-password-1");
      expect([wrong.code, wrong.message]).toEqual([
        "unauthenticated",
        "old_password: does not match the current password",
      ]);
    }
    const before = await bcryptRuns(t.url);
    for (const protocol of PROTOCOLS) expectThrottled(protocol, await change(PASSWORD, "new-password-1", protocol), 1);
    expect(await bcryptRuns(t.url)).toEqual(before);
    // The same user at Login: locked too.
    expectThrottled("connect-json", await login(h, PASSWORD), 1);
    clock.advance(1);
    expect((await change(PASSWORD, "new-password-1")).code).toBe("ok");
    expect((await login(h, "new-password-1")).code).toBe("ok");
  });

  // Simultaneous attempts, from the client's side: all sent before any is
  // answered. Only failures count, so correct logins all succeed; each check
  // holds a slot of its account, so guesses never get more checks than the limit.
  const BURST = 16;
  const protocolOf = (i: number) => PROTOCOLS[i % PROTOCOLS.length]!;

  /**
   * Sends the calls at once and holds every hashing slot of the server until
   * each call is inside it (waiting to hash, waiting for an account slot, or
   * answered): no check can finish before the last attempt has arrived.
   */
  async function simultaneously(calls: Array<() => Promise<RpcAnswer>>): Promise<RpcAnswer[]> {
    const queue = t.server.hasher.queue;
    const releases: Array<() => void> = [];
    for (let i = 0; i < queue.concurrency; i++) {
      void queue.run(() => new Promise<void>((resolve) => releases.push(resolve)));
    }
    let answered = 0;
    const sent = calls.map((send) => send().finally(() => answered++));
    try {
      for (let tries = 0; queue.stats().waiting + queue.reservedPlaces() + answered < sent.length; tries++) {
        if (tries > 2500) throw new Error("the burst never reached the server");
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    } finally {
      for (const release of releases) release();
    }
    return Promise.all(sent);
  }

  test(`${BURST} simultaneous logins with the right password all succeed, on every protocol`, async () => {
    const h = tenant();
    await createAlice(h);
    const answers = await simultaneously(
      Array.from({ length: BURST }, (_, i) => () => login(h, PASSWORD, protocolOf(i), i % 2 === 0 ? "alice" : "ALICE")),
    );
    expect(answers.map((a, i) => [protocolOf(i), a.code, a.message])).toEqual(
      answers.map((_, i) => [protocolOf(i), "ok", ""]),
    );
    // Nothing was counted: five failures are still needed to lock.
    await fail(h, MAX_FAILURES - 1);
    expect((await login(h, PASSWORD)).code).toBe("ok");
  });

  test(`${BURST} simultaneous wrong guesses get at most LOGIN_MAX_FAILURES bcrypt checks, and the account locks`, async () => {
    const h = tenant();
    await createAlice(h);
    const before = await bcryptRuns(t.url);
    const answers = await simultaneously(
      Array.from({ length: BURST }, (_, i) => () => login(h, WRONG, protocolOf(i), i % 2 === 0 ? "alice" : "Alice")),
    );
    const after = await bcryptRuns(t.url);
    expect(after.verify - before.verify).toBe(MAX_FAILURES);
    const codes = answers.map((a) => a.code);
    expect(codes.filter((c) => c === "unauthenticated")).toHaveLength(MAX_FAILURES);
    expect(codes.filter((c) => c === "resource_exhausted")).toHaveLength(BURST - MAX_FAILURES);
    expectThrottled("connect-json", await login(h, PASSWORD), 1);
    // Through email too (the same user), and without a check.
    expectThrottled("grpc", await call("grpc", "login", { email: "alice@example.com", password: PASSWORD }, h), 1);
    expect((await bcryptRuns(t.url)).verify).toBe(after.verify);
  });

  test("a mixed burst: every right password signs in while the wrong ones are refused and counted", async () => {
    const h = tenant();
    await createAlice(h);
    const wrong = MAX_FAILURES - 1;
    const before = await bcryptRuns(t.url);
    const answers = await simultaneously(
      Array.from({ length: BURST }, (_, i) => () => login(h, i < wrong ? WRONG : PASSWORD, protocolOf(i))),
    );
    expect(answers.map((a) => a.code)).toEqual([
      ...Array<string>(wrong).fill("unauthenticated"),
      ...Array<string>(BURST - wrong).fill("ok"),
    ]);
    expect((await bcryptRuns(t.url)).verify - before.verify).toBe(BURST);
  });

  test("a check that could not start within half its slot's 60 s lease is not made: refused as busy, not counted", async () => {
    const h = tenant();
    await createAlice(h);
    const queue = t.server.hasher.queue;
    const releases: Array<() => void> = [];
    for (let i = 0; i < queue.concurrency; i++) {
      void queue.run(() => new Promise<void>((resolve) => releases.push(resolve)));
    }
    const before = await bcryptRuns(t.url);
    const late = login(h, WRONG);
    try {
      for (let tries = 0; queue.stats().waiting < 1; tries++) {
        if (tries > 2500) throw new Error("the login never waited for hashing");
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      clock.advance(31);
    } finally {
      for (const release of releases) release();
    }
    const answer = await late;
    expect([answer.code, answer.message, answer.headers["retry-after"]]).toEqual([
      "resource_exhausted",
      "the service is busy hashing passwords; retry shortly",
      "1",
    ]);
    expect((await bcryptRuns(t.url)).verify).toBe(before.verify);
    // Its slot was given back and nothing was counted: five failures are still needed to lock.
    await fail(h, MAX_FAILURES - 1);
    expect((await login(h, PASSWORD)).code).toBe("ok");
  });

  test("a burst through two replicas on one database still gets at most LOGIN_MAX_FAILURES checks", async () => {
    const replica = await startTestServer({ databaseUrl: t.config.databaseUrl, now: clock.now });
    const replicaWire = new Wire(replica.url);
    try {
      const h = tenant();
      await createAlice(h);
      const other = { ...h, authorization: `Bearer ${replica.adminKey}` };
      const runs = async () => (await bcryptRuns(t.url)).verify + (await bcryptRuns(replica.url)).verify;
      const send = (password: string) =>
        Array.from({ length: BURST }, (_, i) =>
          i % 2 === 0
            ? login(h, password, protocolOf(i))
            : call(protocolOf(i), "login", { username: "alice", password }, other, replicaWire),
        );
      // Right passwords through both at once: all succeed.
      expect((await Promise.all(send(PASSWORD))).map((a) => a.code)).toEqual(Array<string>(BURST).fill("ok"));
      const before = await runs();
      const answers = await Promise.all(send(WRONG));
      expect((await runs()) - before).toBe(MAX_FAILURES);
      expect(answers.filter((a) => a.code === "unauthenticated")).toHaveLength(MAX_FAILURES);
      expectThrottled(
        "grpc",
        await call("grpc", "login", { username: "alice", password: PASSWORD }, other, replicaWire),
        1,
      );
    } finally {
      replicaWire.close();
      await replica.close();
    }
  });
});
