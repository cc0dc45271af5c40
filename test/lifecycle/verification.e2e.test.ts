// Email verification end to end, on both engines, over every protocol: the
// mail arrives at a real SMTP server, its link (GET) or VerifyEmail with its
// token verifies the user, and Read shows it. Then the rules: single use, a
// new link voids the old, expiry, a changed email is no longer verified,
// redirects only to allowed origins, the same answer for unknown addresses,
// and no token in the logs or the database.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { grpcUsersClient } from "../support/grpc-js.js";
import { rawQuery } from "../support/raw-query.js";
import type { TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { APP, clock, lifecycleServer, linkIn, nextMail, ok, openLink, until } from "./support.js";

describe.each(ENGINES)("email verification (%s)", (engine) => {
  let catcher: SmtpCatcher;
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  const tokens: string[] = [];
  let users = 0;

  beforeAll(async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    t = await lifecycleServer(engine, catcher);
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
    await catcher.stop();
  });

  async function newUser(): Promise<{ id: string; email: string }> {
    const n = ++users;
    const email = `user${n}@example.com`;
    const answer = await ok(
      wire,
      "connect-json",
      "create",
      { username: `user${n}`, email, password: "password-123" },
      admin,
    );
    return { id: (answer.json!.user as { id: string }).id, email };
  }

  async function sendAndCatch(email: string, extra: Record<string, string> = {}, protocol = PROTOCOLS[0]!) {
    const seen = catcher.to(email).length;
    await ok(
      wire,
      protocol,
      "sendVerificationEmail",
      { email, redirectUrl: `${APP}/welcome`, failureRedirectUrl: `${APP}/oops`, ...extra },
      admin,
    );
    const mail = await nextMail(catcher, email, seen);
    const link = linkIn(mail);
    tokens.push(link.token);
    return { mail, ...link };
  }

  async function readUser(id: string) {
    return (await ok(wire, "connect-json", "read", { id }, admin)).json!.user as Record<string, unknown>;
  }

  test.each(PROTOCOLS)(
    "%s: the link in the mail verifies the email and redirects to redirect_url",
    async (protocol) => {
      const u = await newUser();
      expect(await readUser(u.id)).not.toHaveProperty("verified");
      const { mail, path, token } = await sendAndCatch(u.email, { fromName: "Example App" }, protocol);
      expect(mail).toMatchObject({
        from: "accounts@example.com",
        fromName: "Example App",
        subject: "Confirm your email address",
      });
      expect(token.length).toBeGreaterThanOrEqual(43); // 256 bits, base64url
      const before = Math.floor(clock.now() / 1000);
      const answer = await openLink(t, path);
      expect(answer.status).toBe(303);
      expect(answer.location).toBe(`${APP}/welcome`);
      expect(answer.headers["referrer-policy"]).toBe("no-referrer");
      expect(answer.headers["cache-control"]).toBe("no-store");
      const read = await ok(wire, protocol, "read", { id: u.id }, admin);
      const user = read.json!.user as { verified: boolean; verificationDate: string };
      expect(user.verified).toBe(true);
      expect(Number(user.verificationDate)).toBeGreaterThanOrEqual(before);
      if (protocol === "m3o") {
        const raw = JSON.parse(read.body.toString("utf8")) as { user: Record<string, unknown> };
        expect(raw.user.verified).toBe(true);
        expect(typeof raw.user.verification_date).toBe("number");
      }
      // Used once: the same link now goes to failure_redirect_url.
      expect(await openLink(t, path)).toMatchObject({ status: 303, location: `${APP}/oops` });
    },
  );

  test.each(PROTOCOLS)(
    "%s: VerifyEmail with the mail's token verifies; a second use says only invalid or expired",
    async (protocol) => {
      const u = await newUser();
      const { token } = await sendAndCatch(u.email, {}, protocol);
      await ok(wire, protocol, "verifyEmail", { token }, admin);
      expect(await readUser(u.id)).toMatchObject({ verified: true });
      for (const bad of [token, "A".repeat(43), "x"]) {
        const again = await rpc(wire, protocol, "verifyEmail", { token: bad }, admin);
        expect([again.code, again.message]).toEqual(["invalid_argument", "invalid or expired"]);
      }
    },
  );

  test("gRPC through @grpc/grpc-js: send, then VerifyEmail with the token, then Read shows verified", async () => {
    const u = await newUser();
    const client = grpcUsersClient(`127.0.0.1:${t.port}`);
    try {
      const seen = catcher.to(u.email).length;
      await client.call("SendVerificationEmail", { email: u.email }, admin);
      const { token } = linkIn(await nextMail(catcher, u.email, seen));
      tokens.push(token);
      await client.call("VerifyEmail", { token }, admin);
      const read = await client.call<{ user: { verified: boolean; verification_date: string } }>(
        "Read",
        { id: u.id },
        admin,
      );
      expect(read.user.verified).toBe(true);
      expect(Number(read.user.verification_date)).toBeGreaterThan(0);
      const failure = await client.fail("VerifyEmail", { token }, admin);
      expect(failure.details).toBe("invalid or expired");
    } finally {
      client.close();
    }
  });

  test("an unknown or empty token gets a plain 400 page, never a redirect", async () => {
    for (const path of [
      "/users/verify-email?token=nope",
      "/users/verify-email",
      `/users/verify-email?token=${"a".repeat(300)}`,
    ]) {
      const answer = await openLink(t, path);
      expect(answer.status).toBe(400);
      expect(answer.location).toBeUndefined();
      expect(answer.text).toMatch(/invalid or has expired/);
    }
    const withoutRedirect = await newUser();
    const seen = catcher.to(withoutRedirect.email).length;
    await ok(wire, "connect-json", "sendVerificationEmail", { email: withoutRedirect.email }, admin);
    const { path, token } = linkIn(await nextMail(catcher, withoutRedirect.email, seen));
    tokens.push(token);
    expect(await openLink(t, path)).toMatchObject({ status: 200, location: undefined });
    expect((await openLink(t, path)).status).toBe(400);
  });

  test("VerifyEmail works only in the token's own namespace (the link, with no key, finds it anywhere)", async () => {
    const u = await newUser();
    const { token, path } = await sendAndCatch(u.email);
    const other = await rpc(wire, "connect-json", "verifyEmail", { token }, { ...admin, "micro-namespace": "other" });
    expect([other.code, other.message]).toEqual(["invalid_argument", "invalid or expired"]);
    expect(await readUser(u.id)).not.toHaveProperty("verified");
    expect((await openLink(t, path)).status).toBe(303);
    expect(await readUser(u.id)).toMatchObject({ verified: true });
  });

  test("a new mail voids the previous link", async () => {
    const u = await newUser();
    const first = await sendAndCatch(u.email);
    const second = await sendAndCatch(u.email);
    expect((await openLink(t, first.path)).status).toBe(400);
    expect(await readUser(u.id)).not.toHaveProperty("verified");
    expect(await openLink(t, second.path)).toMatchObject({ status: 303, location: `${APP}/welcome` });
  });

  test("a link expires after VERIFICATION_TTL_SECONDS (24 h)", async () => {
    const u = await newUser();
    const { path } = await sendAndCatch(u.email);
    clock.offsetMs += 24 * 3600 * 1000 + 1000;
    try {
      expect(await openLink(t, path)).toMatchObject({ status: 303, location: `${APP}/oops` });
      expect(await readUser(u.id)).not.toHaveProperty("verified");
    } finally {
      clock.offsetMs = 0;
    }
  });

  test("changing the email clears verified, and a link sent to the old address no longer works", async () => {
    const u = await newUser();
    const { path } = await sendAndCatch(u.email);
    const pending = await sendAndCatch(u.email);
    expect((await openLink(t, pending.path)).status).toBe(303);
    expect((await openLink(t, path)).status).toBe(400);
    expect(await readUser(u.id)).toMatchObject({ verified: true });
    // Same email given again: still verified.
    await ok(wire, "connect-json", "update", { id: u.id, email: u.email.toUpperCase() }, admin);
    expect(await readUser(u.id)).toMatchObject({ verified: true });
    const stale = await sendAndCatch(u.email);
    await ok(wire, "connect-json", "update", { id: u.id, email: `new-${u.email}` }, admin);
    const user = await readUser(u.id);
    expect(user).not.toHaveProperty("verified");
    expect(user).not.toHaveProperty("verificationDate");
    expect(await openLink(t, stale.path)).toMatchObject({ status: 303, location: `${APP}/oops` });
    expect(await readUser(u.id)).not.toHaveProperty("verified");
  });

  test.each(PROTOCOLS)(
    "%s: redirects must be on REDIRECT_ORIGINS, else InvalidArgument naming the field (and no mail)",
    async (protocol) => {
      const u = await newUser();
      const cases: Array<[Record<string, string>, string]> = [
        [{ redirectUrl: "https://evil.example.com/x" }, "redirect_url: origin is not allowed (REDIRECT_ORIGINS)"],
        [
          { failureRedirectUrl: "https://app.example.com.evil.com/" },
          "failure_redirect_url: origin is not allowed (REDIRECT_ORIGINS)",
        ],
        [{ redirectUrl: "javascript:alert(1)" }, "redirect_url: must be an http(s) URL without credentials"],
        [{ redirectUrl: "/relative" }, "redirect_url: must be an absolute URL like https://app.example.com/verified"],
        [{ subject: "two\r\nBcc: x@example.com" }, "subject: must be one line without control characters"],
        [{ fromName: "x".repeat(101) }, "from_name: must be at most 100 characters"],
        [{ textContent: "x".repeat(10_001) }, "text_content: must be at most 10000 characters"],
      ];
      for (const [fields, message] of cases) {
        const answer = await rpc(wire, protocol, "sendVerificationEmail", { email: u.email, ...fields }, admin);
        expect([answer.code, answer.message]).toEqual(["invalid_argument", message]);
      }
      const bad = await rpc(wire, protocol, "sendVerificationEmail", { email: "not-an-email" }, admin);
      expect(bad.code).toBe("invalid_argument");
      expect(bad.message).toMatch(/^email: /);
      await new Promise((r) => setTimeout(r, 200));
      expect(catcher.to(u.email)).toHaveLength(0);
    },
  );

  test("a custom text gets the link where $micro_verification_link stands", async () => {
    const u = await newUser();
    const { mail, path } = await sendAndCatch(u.email, {
      subject: "Welcome aboard",
      textContent: "Hi! Click $micro_verification_link to finish.",
    });
    expect(mail.subject).toBe("Welcome aboard");
    expect(mail.text.trim()).toBe(`Hi! Click https://users.example.com${path} to finish.`);
  });

  test("no token ever reaches the logs or the database in clear, and sent bodies are erased", async () => {
    expect(tokens.length).toBeGreaterThan(5);
    const logs = t.logs.join("\n");
    for (const token of tokens) expect(logs).not.toContain(token);
    // Every mail arrived (each test waited for its own); the last outcome may still be committing.
    await until(async () =>
      (await rawQuery(t.config.databaseUrl, "SELECT body, status FROM mail_outbox")).every(
        (r) => r.body === "" && r.status === "sent",
      ),
    );
    const stored = JSON.stringify(await rawQuery(t.config.databaseUrl, "SELECT * FROM mail_tokens"));
    for (const token of tokens) expect(stored).not.toContain(token);
  });
});
