// Password reset end to end, on both engines, over every protocol: the code
// arrives at a real SMTP server, ResetPassword with it sets the new password,
// ends every session, clears the login throttle and verifies the email. Then
// the rules: single use, 5 wrong tries void a code (also when they arrive at
// once), a new code voids the old, expiry (and its cap), every failure says
// only "invalid or expired", public keys may reset, and no code in the logs
// or the database.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import type { TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { clock, codeIn, lifecycleServer, nextMail, ok, until } from "./support.js";

const OLD = "password-123";
const MAX_TTL_SECONDS = 900;

/** A well-formed code other than `code` (changes its first character). */
function wrongCode(code: string, n = 0): string {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const others = alphabet.replace(code[0]!, "");
  return `${others[n % others.length]}${code.slice(1)}`;
}

describe.each(ENGINES)("password reset (%s)", (engine) => {
  let catcher: SmtpCatcher;
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  const codes: string[] = [];
  let users = 0;

  beforeAll(async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    t = await lifecycleServer(engine, catcher, {
      PASSWORD_RESET_MAX_TTL_SECONDS: String(MAX_TTL_SECONDS),
      LOGIN_MAX_FAILURES: "3",
      MAILS_PER_ADDRESS: "1000",
    });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
    await catcher.stop();
  });

  async function newUser(): Promise<{ id: string; username: string; email: string }> {
    const n = ++users;
    const username = `reset${n}`;
    const email = `reset${n}@example.com`;
    const answer = await ok(wire, "connect-json", "create", { username, email, password: OLD }, admin);
    return { id: (answer.json!.user as { id: string }).id, username, email };
  }

  async function sendAndCatch(email: string, extra: Record<string, unknown> = {}, protocol = PROTOCOLS[0]!) {
    const seen = catcher.to(email).length;
    await ok(wire, protocol, "sendPasswordResetEmail", { email, ...extra }, admin);
    const mail = await nextMail(catcher, email, seen);
    const code = codeIn(mail);
    codes.push(code);
    return { mail, code };
  }

  const reset = (email: string, code: string, password = "a brand new password", protocol = PROTOCOLS[0]!) =>
    rpc(wire, protocol, "resetPassword", { email, code, newPassword: password, confirmPassword: password }, admin);

  const login = (username: string, password: string) =>
    rpc(wire, "connect-json", "login", { username, password }, admin);

  const expectInvalid = (answer: { code: string; message: string }) =>
    expect([answer.code, answer.message]).toEqual(["invalid_argument", "invalid or expired"]);

  test.each(PROTOCOLS)(
    "%s: the mailed code sets the new password, ends every session and verifies the email; it works once",
    async (protocol) => {
      const u = await newUser();
      const session = (await ok(wire, protocol, "login", { username: u.username, password: OLD }, admin)).json!
        .session as { id: string };
      const { mail, code } = await sendAndCatch(u.email, { fromName: "Example App" }, protocol);
      expect(mail).toMatchObject({ fromName: "Example App", subject: "Your password reset code" });
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}$/);
      await ok(
        wire,
        protocol,
        "resetPassword",
        { email: u.email, code, newPassword: "a brand new password", confirmPassword: "a brand new password" },
        admin,
      );
      const gone = await rpc(wire, protocol, "readSession", { sessionId: session.id }, admin);
      expect(gone.code).toBe("not_found");
      expect((await login(u.username, OLD)).code).toBe("unauthenticated");
      expect((await login(u.username, "a brand new password")).code).toBe("ok");
      const user = (await ok(wire, protocol, "read", { id: u.id }, admin)).json!.user as Record<string, unknown>;
      expect(user.verified).toBe(true);
      expectInvalid(await reset(u.email, code, "yet another password", protocol));
      expect((await login(u.username, "a brand new password")).code).toBe("ok");
    },
  );

  test("the code is read case-insensitively, ignoring spaces and hyphens", async () => {
    const u = await newUser();
    const { code } = await sendAndCatch(u.email);
    const typed = ` ${code.slice(0, 5).toLowerCase()}-${code.slice(5)} `;
    expect((await reset(u.email, typed)).code).toBe("ok");
  });

  test.each(PROTOCOLS)(
    "%s: confirm_password must equal new_password (named); a short password is refused; neither spends a try",
    async (protocol) => {
      const u = await newUser();
      const { code } = await sendAndCatch(u.email);
      for (let i = 0; i < 6; i++) {
        const differ = await rpc(
          wire,
          protocol,
          "resetPassword",
          { email: u.email, code, newPassword: "a brand new password", confirmPassword: "a brand new passwort" },
          admin,
        );
        expect([differ.code, differ.message]).toEqual([
          "invalid_argument",
          "confirm_password: must equal new_password",
        ]);
      }
      const short = await reset(u.email, code, "short", protocol);
      expect([short.code, short.message]).toEqual(["invalid_argument", "new_password: must be at least 8 characters"]);
      expect((await reset(u.email, code, "a brand new password", protocol)).code).toBe("ok");
    },
  );

  test("5 wrong codes void the code: the right one then fails too", async () => {
    const u = await newUser();
    const { code } = await sendAndCatch(u.email);
    for (let i = 0; i < 5; i++) expectInvalid(await reset(u.email, wrongCode(code, i)));
    expectInvalid(await reset(u.email, code));
    expect((await login(u.username, OLD)).code).toBe("ok");
  });

  test("4 wrong codes leave the fifth try: the right code still works", async () => {
    const u = await newUser();
    const { code } = await sendAndCatch(u.email);
    for (let i = 0; i < 4; i++) expectInvalid(await reset(u.email, wrongCode(code, i)));
    expect((await reset(u.email, code)).code).toBe("ok");
  });

  test.each(["connect-json", "grpc"] as const)(
    "%s: 24 wrong codes at once get at most 5 tries between them (the right one then fails)",
    async (protocol) => {
      const u = await newUser();
      const { code } = await sendAndCatch(u.email);
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, i) => reset(u.email, wrongCode(code, i), "a brand new password", protocol)),
      );
      for (const answer of answers) expectInvalid(answer);
      const [row] = await rawQuery(
        t.config.databaseUrl,
        `SELECT attempts FROM mail_tokens WHERE purpose = 'reset_password' AND user_id = '${u.id}'`,
      );
      expect(Number(row!.attempts)).toBe(5);
      expectInvalid(await reset(u.email, code));
    },
  );

  test("a new code voids the previous one", async () => {
    const u = await newUser();
    const first = await sendAndCatch(u.email);
    const second = await sendAndCatch(u.email);
    expect(second.code).not.toBe(first.code);
    expectInvalid(await reset(u.email, first.code));
    expect((await reset(u.email, second.code)).code).toBe("ok");
  });

  test("a code expires: after `expiration` seconds, after 1800 by default, and never later than the cap", async () => {
    const u = await newUser();
    try {
      const short = await sendAndCatch(u.email, { expiration: 120 });
      clock.offsetMs += 121_000;
      expectInvalid(await reset(u.email, short.code));

      const byDefault = await sendAndCatch(u.email);
      clock.offsetMs += (MAX_TTL_SECONDS + 1) * 1000; // the default 1800 is cut to the cap (900)
      expectInvalid(await reset(u.email, byDefault.code));

      const long = await sendAndCatch(u.email, { expiration: 86_400 });
      clock.offsetMs += (MAX_TTL_SECONDS + 1) * 1000; // 86,400 is cut to the cap
      expectInvalid(await reset(u.email, long.code));
      // Nothing above changed the password.
      expect((await login(u.username, OLD)).code).toBe("ok");
    } finally {
      clock.offsetMs = 0;
    }
    // Within the cap a long expiration works.
    const within = await sendAndCatch(u.email, { expiration: 86_400 });
    clock.offsetMs += (MAX_TTL_SECONDS - 5) * 1000;
    try {
      expect((await reset(u.email, within.code)).code).toBe("ok");
    } finally {
      clock.offsetMs = 0;
    }
    const negative = await rpc(wire, "m3o", "sendPasswordResetEmail", { email: u.email, expiration: -1 }, admin);
    expect([negative.code, negative.message]).toEqual([
      "invalid_argument",
      "expiration: must be 0 (the default) or a positive number of seconds",
    ]);
  });

  test.each(PROTOCOLS)(
    "%s: an unknown email, a wrong, malformed, used or foreign code all say only invalid or expired",
    async (protocol) => {
      const u = await newUser();
      const other = await newUser();
      const { code } = await sendAndCatch(u.email);
      const answers = [
        await reset("nobody@example.com", code, "a brand new password", protocol),
        await reset(other.email, code, "a brand new password", protocol),
        await reset(u.email, wrongCode(code), "a brand new password", protocol),
        await reset(u.email, "not a code", "a brand new password", protocol),
        await rpc(
          wire,
          protocol,
          "resetPassword",
          { email: u.email, code, newPassword: "a brand new password", confirmPassword: "a brand new password" },
          { ...admin, "micro-namespace": "elsewhere" },
        ),
      ];
      for (const answer of answers) expectInvalid(answer);
      expect((await reset(u.email, code, "a brand new password", protocol)).code).toBe("ok");
      expectInvalid(await reset(u.email, code, "a brand new password", protocol));
    },
  );

  test("a successful reset clears the login throttle of the account", async () => {
    const u = await newUser();
    for (let i = 0; i < 3; i++) expect((await login(u.username, "wrong password")).code).toBe("unauthenticated");
    const locked = await login(u.username, OLD);
    expect(locked.code).toBe("resource_exhausted");
    const { code } = await sendAndCatch(u.email);
    expect((await reset(u.email, code)).code).toBe("ok");
    expect((await login(u.username, "a brand new password")).code).toBe("ok");
    expect((await rpc(wire, "connect-json", "login", { email: u.email, password: "nope-nope" }, admin)).code).toBe(
      "unauthenticated",
    );
  });

  test("a public key may send (the service's own text only) and reset", async () => {
    const u = await newUser();
    const key = { authorization: `Bearer ${(await t.server.keys.create("default", "app", "public")).key}` };
    const forbidden = await rpc(wire, "m3o", "sendPasswordResetEmail", { email: u.email, subject: "Hi" }, key);
    expect([forbidden.code, forbidden.httpStatus]).toEqual(["permission_denied", 403]);
    const seen = catcher.to(u.email).length;
    await ok(wire, "m3o", "sendPasswordResetEmail", { email: u.email }, key);
    const code = codeIn(await nextMail(catcher, u.email, seen));
    codes.push(code);
    await ok(
      wire,
      "m3o",
      "resetPassword",
      { email: u.email, code, newPassword: "a public reset", confirmPassword: "a public reset" },
      key,
    );
    expect((await login(u.username, "a public reset")).code).toBe("ok");
  });

  test("no code ever reaches the logs or the database in clear, and sent bodies are erased", async () => {
    expect(codes.length).toBeGreaterThan(10);
    const logs = t.logs.join("\n");
    for (const code of codes) expect(logs).not.toContain(code);
    await until(async () =>
      (await rawQuery(t.config.databaseUrl, "SELECT body, status FROM mail_outbox")).every(
        (r) => r.body === "" && r.status === "sent",
      ),
    );
    const rows = await rawQuery(t.config.databaseUrl, "SELECT * FROM mail_tokens");
    const stored = JSON.stringify(rows);
    for (const code of codes) {
      expect(stored).not.toContain(code);
      expect(stored.toLowerCase()).not.toContain(Buffer.from(code).toString("hex"));
    }
  });
});
