// Managing second factors on both engines over every protocol: a public key
// enrols, confirms, regenerates and disables for the user of its session only
// (DisableTotp with a code or a recovery code), a service or admin key removes
// a factor without one (logged as an admin removal), wrong codes are throttled
// per user apart from passwords, and what is stored is sealed or digested.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { PROTOCOLS } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import { codeAt, type MfaWorld, PASSWORD, STEP_MS, startMfaWorld } from "./support.js";

describe.each(ENGINES)("managing second factors (%s)", (engine) => {
  let w: MfaWorld;
  let publicKey: string;

  beforeAll(async () => {
    w = await startMfaWorld(engine, { LOGIN_MAX_FAILURES: "3", LOGIN_LOCKOUT_BASE_SECONDS: "60" });
    publicKey = (await w.t.server.keys.create("default", "app", "public")).key;
  });
  afterAll(() => w.close());

  const asPublic = (session?: string): Record<string, string> => ({
    authorization: `Bearer ${publicKey}`,
    ...(session ? { "x-session-id": session } : {}),
  });

  async function sessionOf(username: string): Promise<string> {
    const answer = await w.ok("connect-json", "login", { username, password: PASSWORD }, asPublic());
    return (answer.json!.session as { id: string }).id;
  }

  test.each(PROTOCOLS)("%s: a public key manages the factor of its session's user, with codes", async (protocol) => {
    const user = await w.newUser("self");
    const session = await sessionOf(user.username);
    const own = asPublic(session);
    // Another user's session proves nothing about this user.
    const other = await w.newUser("other");
    const denied = await w.call(protocol, "enrollTotp", { userId: user.id }, asPublic(await sessionOf(other.username)));
    expect(denied.code).toBe("permission_denied");

    const { secret } = (await w.ok(protocol, "enrollTotp", { userId: user.id }, own)).json as { secret: string };
    const first = (await w.ok(protocol, "confirmTotp", { userId: user.id, code: codeAt(secret, w.clock.now()) }, own))
      .json!.recoveryCodes as string[];
    expect((await w.ok(protocol, "getMfaStatus", { userId: user.id }, own)).json).toEqual({
      totpEnabled: true,
      recoveryCodesLeft: 10,
    });

    // Regenerate: needs a current code (the confirming one is spent), voids the old set.
    const spent = await w.call(
      protocol,
      "regenerateRecoveryCodes",
      {
        userId: user.id,
        code: codeAt(secret, w.clock.now()),
      },
      own,
    );
    expect(spent.code).toBe("unauthenticated");
    w.clock.advance(30);
    const second = (
      await w.ok(protocol, "regenerateRecoveryCodes", { userId: user.id, code: codeAt(secret, w.clock.now()) }, own)
    ).json!.recoveryCodes as string[];
    expect(second).toHaveLength(10);
    expect(second.filter((c) => first.includes(c))).toEqual([]);
    const old = await w.call(
      protocol,
      "verifyMfa",
      {
        mfaTicket: await w.ticketFor(user.username),
        recoveryCode: first[0]!,
      },
      asPublic(),
    );
    expect(old.code).toBe("unauthenticated");

    // Disable: a public key must show a code or a recovery code.
    const bare = await w.call(protocol, "disableTotp", { userId: user.id }, own);
    expect(bare.code).toBe("invalid_argument");
    expect(bare.message).toContain("code");
    const wrong = await w.call(protocol, "disableTotp", { userId: user.id, recoveryCode: first[1]! }, own);
    expect(wrong.code).toBe("unauthenticated");
    await w.ok(protocol, "disableTotp", { userId: user.id, recoveryCode: second[0]! }, own);
    expect((await w.ok(protocol, "getMfaStatus", { userId: user.id }, own)).json).toEqual({});
    // Off: Login answers a session again.
    expect(await sessionOf(user.username)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const offAgain = await w.call(protocol, "disableTotp", { userId: user.id, code: "000000" }, own);
    expect(offAgain.message).toContain("not enabled");
  });

  test.each(["service", "admin"] as const)(
    "a %s key removes a factor without a code, and it is logged",
    async (role) => {
      const key = role === "admin" ? w.t.adminKey : (await w.t.server.keys.create("default", "backend", "service")).key;
      const user = await w.newUserWithTotp("locked");
      const logsBefore = w.t.logs.length;
      await w.ok("grpc", "disableTotp", { userId: user.id }, { authorization: `Bearer ${key}` });
      const removal = w.t.logs
        .slice(logsBefore)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.msg === "second factor removed without a code (admin removal)");
      expect(removal).toMatchObject({ level: "warn", namespace: "default", user_id: user.id, role });
      expect(String(removal!.key_id)).toMatch(/^key_/);
      const login = await w.ok("m3o", "login", { username: user.username, password: PASSWORD });
      expect(Object.keys(login.json!)).toEqual(["session"]);
      expect((await w.ok("m3o", "getMfaStatus", { userId: user.id })).body.toString()).toBe(
        '{"totp_enabled":false,"totp_pending":false,"recovery_codes_left":0}',
      );
    },
  );

  test("wrong codes are throttled per user, apart from passwords, and a right code after the lock works", async () => {
    const user = await w.newUserWithTotp("guess");
    const wrong = codeAt(user.secret, w.clock.now() + 20 * STEP_MS);
    for (let i = 0; i < 3; i++) {
      const answer = await w.call("connect-json", "verifyMfa", {
        mfaTicket: await w.ticketFor(user.username),
        code: wrong,
      });
      expect({ i, code: answer.code }).toEqual({ i, code: "unauthenticated" });
    }
    // Locked: even the right code is refused, on every protocol, with retry-after.
    for (const protocol of PROTOCOLS) {
      const answer = await w.call(protocol, "verifyMfa", {
        mfaTicket: await w.ticketFor(user.username),
        code: codeAt(user.secret, w.clock.now()),
      });
      expect({ protocol, code: answer.code }).toEqual({ protocol, code: "resource_exhausted" });
      expect(Number(answer.headers["retry-after"])).toBeGreaterThan(0);
    }
    // The other code checks count under the same lock.
    const regen = await w.call("grpc", "regenerateRecoveryCodes", {
      userId: user.id,
      code: codeAt(user.secret, w.clock.now()),
    });
    expect(regen.code).toBe("resource_exhausted");
    // The password is not locked by code guesses: Login still answers a ticket.
    const ticket = await w.ticketFor(user.username);
    w.clock.advance(61);
    await w.ok("connect-json", "verifyMfa", {
      mfaTicket: await w.ticketFor(user.username),
      code: codeAt(user.secret, w.clock.now()),
    });
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test("stored: the secret sealed, recovery codes and tickets as digests only", async () => {
    const user = await w.newUserWithTotp("stored");
    const ticket = await w.ticketFor(user.username);
    const url = w.t.config.databaseUrl;
    const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const [totp] = await rawQuery(url, `SELECT * FROM mfa_totp WHERE user_id = ${quote(user.id)}`);
    const sealed = String(totp!.secret_sealed);
    expect(sealed).toMatch(/^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const rawSecret = Buffer.from(
      user.secret
        .split("")
        .reduce((bits, c) => bits + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".indexOf(c).toString(2).padStart(5, "0"), "")
        .match(/.{8}/g)!
        .map((b) => Number.parseInt(b, 2)),
    );
    const everything = JSON.stringify(
      await Promise.all(
        ["mfa_totp", "mfa_recovery_codes", "mfa_tickets"].map((table) => rawQuery(url, `SELECT * FROM ${table}`)),
      ),
      (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString("hex") : typeof v === "bigint" ? v.toString() : v),
    );
    for (const secretForm of [
      user.secret,
      user.secret.toLowerCase(),
      rawSecret.toString("hex"),
      rawSecret.toString("base64"),
      ticket,
      ...user.recoveryCodes,
      ...user.recoveryCodes.map((c) => c.replaceAll("-", "")),
    ]) {
      expect({ found: everything.includes(secretForm) }).toEqual({ found: false });
    }
    const codes = await rawQuery(url, `SELECT digest FROM mfa_recovery_codes WHERE user_id = ${quote(user.id)}`);
    expect(codes).toHaveLength(10);
    const tickets = await rawQuery(url, `SELECT digest, failures FROM mfa_tickets WHERE user_id = ${quote(user.id)}`);
    expect(tickets).toHaveLength(1);
    expect(Buffer.from(tickets[0]!.digest as Uint8Array)).toHaveLength(32);
    // Deleting the user takes every row of theirs.
    await w.ok("connect-json", "delete", { id: user.id });
    for (const table of ["mfa_totp", "mfa_recovery_codes", "mfa_tickets"])
      expect(await rawQuery(url, `SELECT 1 FROM ${table} WHERE user_id = ${quote(user.id)}`)).toEqual([]);
  });
});
