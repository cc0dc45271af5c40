// TOTP end to end on both engines over every protocol: enrolment and its
// confirmation, Login answering an MFA ticket, VerifyMfa with a code computed
// here from the secret (the step boundaries, the ±1 window, replay, two
// concurrent uses), recovery codes, and what a ticket survives (5 wrong codes,
// 5 minutes, a password change).
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { PROTOCOLS } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { codeAt, type MfaWorld, PASSWORD, STEP_MS, startMfaWorld } from "./support.js";

describe.each(ENGINES)("TOTP and the MFA ticket (%s)", (engine) => {
  let w: MfaWorld;

  beforeAll(async () => {
    w = await startMfaWorld(engine);
  });
  afterAll(() => w.close());

  test.each(PROTOCOLS)("%s: enrol, confirm, sign in with a ticket and a code", async (protocol) => {
    const user = await w.newUser();
    const enrolled = (await w.ok(protocol, "enrollTotp", { userId: user.id })).json as { secret: string; uri: string };
    expect(enrolled.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrolled.uri);
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe(`/Example App:${user.username}`);
    expect(uri.searchParams.get("secret")).toBe(enrolled.secret);
    expect(uri.searchParams.get("issuer")).toBe("Example App");

    // Pending: Login still answers a session.
    const before = await w.ok(protocol, "login", { username: user.username, password: PASSWORD });
    expect(before.json!.session).toBeDefined();
    expect(before.json!.mfaRequired).toBeUndefined();

    const confirmed = await w.ok(protocol, "confirmTotp", {
      userId: user.id,
      code: codeAt(enrolled.secret, w.clock.now()),
    });
    const codes = confirmed.json!.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);

    const login = await w.ok(protocol, "login", { username: user.username, password: PASSWORD });
    expect(login.json!.session).toBeUndefined();
    expect(login.json!.mfaRequired).toBe(true);
    const ticket = login.json!.mfaTicket as string;
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    if (protocol === "m3o") {
      // M3O's JSON: snake_case, and no session key at all.
      const raw = JSON.parse(login.body.toString("utf8")) as Record<string, unknown>;
      expect(Object.keys(raw).sort()).toEqual(["mfa_required", "mfa_ticket"]);
    }

    w.clock.advance(30);
    const verified = await w.ok(protocol, "verifyMfa", {
      mfaTicket: ticket,
      code: codeAt(enrolled.secret, w.clock.now()),
    });
    const session = verified.json!.session as Record<string, unknown>;
    expect(session).toMatchObject({ userId: user.id, username: user.username, email: `${user.username}@example.com` });
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const read = await w.ok(protocol, "readSession", { sessionId: session.id as string });
    expect((read.json!.session as { userId: string }).userId).toBe(user.id);
    // The ticket was single use.
    w.clock.advance(30);
    const again = await w.call(protocol, "verifyMfa", {
      mfaTicket: ticket,
      code: codeAt(enrolled.secret, w.clock.now()),
    });
    expect(again.code).toBe("unauthenticated");
    expect(again.message).toContain("invalid or expired mfa_ticket");
  });

  test("accounts without a second factor get exactly today's Login answer on every protocol", async () => {
    const user = await w.newUser("plain");
    for (const protocol of PROTOCOLS) {
      const answer = await w.ok(protocol, "login", { username: user.username, password: PASSWORD });
      expect(Object.keys(answer.json!)).toEqual(["session"]);
      if (protocol === "m3o" || protocol === "connect-json") {
        const raw = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
        expect(Object.keys(raw)).toEqual(["session"]);
      }
    }
  });

  test("the window is one step either side, at the step boundaries", async () => {
    const user = await w.newUserWithTotp();
    // Move to the very first millisecond of a step: the previous step is one ms away.
    w.clock.advance(((STEP_MS - (w.clock.now() % STEP_MS)) % STEP_MS) / 1000 + 300);
    const start = w.clock.now();
    expect(start % STEP_MS).toBe(0);
    const verify = async (atMs: number) =>
      w.call("connect-json", "verifyMfa", {
        mfaTicket: await w.ticketFor(user.username),
        code: codeAt(user.secret, atMs),
      });
    // Two steps either side: refused.
    expect((await verify(start - 2 * STEP_MS)).code).toBe("unauthenticated");
    expect((await verify(start + 2 * STEP_MS)).code).toBe("unauthenticated");
    // The step before (its last millisecond is 1 ms ago): accepted.
    expect((await verify(start - 1)).code).toBe("ok");
    // The last millisecond of this step: the next step's code is in the window, two on is not.
    w.clock.advance((STEP_MS - 1) / 1000);
    expect((await verify(start + 2 * STEP_MS)).code).toBe("unauthenticated");
    expect((await verify(start + STEP_MS)).code).toBe("ok");
    // One millisecond later (a new step) that step before is two steps back, for a user who never used it.
    w.clock.advance(0.001);
    const fresh = await w.newUserWithTotp();
    // Two steps past its confirmation (whose step is spent), at a step's first millisecond.
    w.clock.advance(((STEP_MS - (w.clock.now() % STEP_MS)) % STEP_MS) / 1000 + 30);
    const now = w.clock.now();
    const verifyFresh = async (atMs: number) =>
      w.call("connect-json", "verifyMfa", {
        mfaTicket: await w.ticketFor(fresh.username),
        code: codeAt(fresh.secret, atMs),
      });
    expect((await verifyFresh(now - STEP_MS - 1)).code).toBe("unauthenticated");
    expect((await verifyFresh(now - 1)).code).toBe("ok");
  });

  test("a code accepted once is refused after, and so is an earlier step's", async () => {
    const user = await w.newUserWithTotp();
    const code = codeAt(user.secret, w.clock.now());
    const first = await w.call("grpc", "verifyMfa", { mfaTicket: await w.ticketFor(user.username), code });
    expect(first.code).toBe("ok");
    const replay = await w.call("grpc", "verifyMfa", { mfaTicket: await w.ticketFor(user.username), code });
    expect(replay.code).toBe("unauthenticated");
    expect(replay.message).toContain("invalid code");
    const earlier = await w.call("m3o", "verifyMfa", {
      mfaTicket: await w.ticketFor(user.username),
      code: codeAt(user.secret, w.clock.now() - STEP_MS),
    });
    expect(earlier.code).toBe("unauthenticated");
    // The next step's code is still good.
    w.clock.advance(30);
    const next = await w.call("grpc-web", "verifyMfa", {
      mfaTicket: await w.ticketFor(user.username),
      code: codeAt(user.secret, w.clock.now()),
    });
    expect(next.code).toBe("ok");
  });

  test("two concurrent VerifyMfa with one code: exactly one wins", async () => {
    for (let round = 0; round < 3; round++) {
      const user = await w.newUserWithTotp("race");
      const tickets = await Promise.all([1, 2, 3, 4].map(() => w.ticketFor(user.username)));
      const code = codeAt(user.secret, w.clock.now());
      const answers = await Promise.all(
        tickets.map((mfaTicket, i) => w.call(i % 2 ? "connect-binary" : "grpc", "verifyMfa", { mfaTicket, code })),
      );
      expect(answers.map((a) => a.code).sort()).toEqual([
        "ok",
        "unauthenticated",
        "unauthenticated",
        "unauthenticated",
      ]);
    }
  });

  test("recovery codes sign in once each, in any case and with or without dashes", async () => {
    const user = await w.newUserWithTotp();
    const [first, second] = user.recoveryCodes as [string, string];
    const ok = await w.call("m3o", "verifyMfa", { mfaTicket: await w.ticketFor(user.username), recoveryCode: first });
    expect(ok.code).toBe("ok");
    const reused = await w.call("connect-json", "verifyMfa", {
      mfaTicket: await w.ticketFor(user.username),
      recoveryCode: first.toUpperCase(),
    });
    expect(reused.code).toBe("unauthenticated");
    const typed = await w.call("grpc", "verifyMfa", {
      mfaTicket: await w.ticketFor(user.username),
      recoveryCode: ` ${second.replaceAll("-", "").toUpperCase()} `,
    });
    expect(typed.code).toBe("ok");
    const status = await w.ok("connect-json", "getMfaStatus", { userId: user.id });
    expect(status.json).toEqual({ totpEnabled: true, recoveryCodesLeft: 8 });
    // Another user's code is nothing here.
    const other = await w.newUserWithTotp();
    const crossed = await w.call("connect-json", "verifyMfa", {
      mfaTicket: await w.ticketFor(user.username),
      recoveryCode: other.recoveryCodes[0]!,
    });
    expect(crossed.code).toBe("unauthenticated");
  });

  test("a ticket dies after 5 wrong codes, and after 5 minutes", async () => {
    const user = await w.newUserWithTotp();
    const ticket = await w.ticketFor(user.username);
    const wrong = codeAt(user.secret, w.clock.now() + 10 * STEP_MS);
    for (let i = 0; i < 5; i++) {
      const answer = await w.call("connect-json", "verifyMfa", { mfaTicket: ticket, code: wrong });
      expect({ i, message: answer.message }).toEqual({ i, message: "invalid code" });
    }
    const right = await w.call("connect-json", "verifyMfa", {
      mfaTicket: ticket,
      code: codeAt(user.secret, w.clock.now()),
    });
    expect(right.message).toBe("invalid or expired mfa_ticket; sign in again");

    const slow = await w.newUserWithTotp();
    const old = await w.ticketFor(slow.username);
    w.clock.advance(300);
    const late = await w.call("grpc", "verifyMfa", { mfaTicket: old, code: codeAt(slow.secret, w.clock.now()) });
    expect(late.code).toBe("unauthenticated");
    expect(late.message).toContain("mfa_ticket");
    const fresh = await w.ticketFor(slow.username);
    w.clock.advance(299);
    expect(
      (await w.call("grpc", "verifyMfa", { mfaTicket: fresh, code: codeAt(slow.secret, w.clock.now()) })).code,
    ).toBe("ok");
  });

  test("a password change ends the tickets issued before it", async () => {
    const user = await w.newUserWithTotp();
    const ticket = await w.ticketFor(user.username);
    await w.ok("connect-json", "updatePassword", {
      userId: user.id,
      oldPassword: PASSWORD,
      newPassword: "a new password",
      confirmPassword: "a new password",
    });
    const answer = await w.call("connect-json", "verifyMfa", {
      mfaTicket: ticket,
      code: codeAt(user.secret, w.clock.now()),
    });
    expect(answer.message).toBe("invalid or expired mfa_ticket; sign in again");
  });

  test("enrolment: a new one replaces a pending one; confirming needs one pending; TOTP on refuses both", async () => {
    const user = await w.newUser();
    const noneYet = await w.call("connect-json", "confirmTotp", { userId: user.id, code: "123456" });
    expect(noneYet.code).toBe("failed_precondition");
    expect(noneYet.message).toContain("no pending TOTP enrolment");
    const first = (await w.ok("connect-json", "enrollTotp", { userId: user.id })).json!.secret as string;
    const second = (await w.ok("connect-json", "enrollTotp", { userId: user.id })).json!.secret as string;
    expect(second).not.toBe(first);
    const stale = await w.call("connect-json", "confirmTotp", { userId: user.id, code: codeAt(first, w.clock.now()) });
    expect(stale.message).toBe("invalid code");
    await w.ok("connect-json", "confirmTotp", { userId: user.id, code: codeAt(second, w.clock.now()) });
    w.clock.advance(30);
    const twice = await w.call("grpc", "confirmTotp", { userId: user.id, code: codeAt(second, w.clock.now()) });
    expect(twice.code).toBe("failed_precondition");
    expect(twice.message).toContain("already enabled");
    const reEnrol = await w.call("m3o", "enrollTotp", { userId: user.id });
    // M3O answers FailedPrecondition as 400.
    expect(reEnrol.httpStatus).toBe(400);
    expect(reEnrol.message).toContain("already enabled");
    const unknown = await w.call("connect-json", "enrollTotp", { userId: "no-such-user" });
    expect(unknown.code).toBe("not_found");
  });

  test("bad input gets a clear error naming the field", async () => {
    const user = await w.newUserWithTotp();
    const ticket = await w.ticketFor(user.username);
    for (const [request, field] of [
      [{ mfaTicket: ticket }, "code"],
      [{ mfaTicket: ticket, code: "12345" }, "code"],
      [{ mfaTicket: ticket, code: "12345a" }, "code"],
      [{ mfaTicket: ticket, code: "123456", recoveryCode: user.recoveryCodes[0]! }, "recovery_code"],
      [{ mfaTicket: ticket, recoveryCode: "not-a-code" }, "recovery_code"],
      [{ mfaTicket: ticket, recoveryCode: "a".repeat(100_000) }, "recovery_code"],
      [{ code: "123456" }, "mfa_ticket"],
      [{ mfaTicket: "x".repeat(100_000), code: "123456" }, "mfa_ticket"],
    ] as const) {
      const answer = await w.call("connect-json", "verifyMfa", request);
      expect({ field, code: answer.code, named: answer.message.startsWith(`${field}:`) }).toEqual({
        field,
        code: "invalid_argument",
        named: true,
      });
    }
    const confirm = await w.call("grpc", "confirmTotp", { userId: user.id, code: "" });
    expect(confirm.code).toBe("invalid_argument");
  });
});
