// Magic links end to end, on both engines, over every protocol: the link
// arrives at a real SMTP server, VerifyToken with its token signs the user in
// (a session exactly as Login's) and verifies the email. Then the rules: one
// use (also when two calls race), a new link voids the old, expiry, the
// link's address only on REDIRECT_ORIGINS, a bad token answered as M3O did
// (is_valid false, "invalid or expired"), public keys allowed, and no token
// in the logs or the database.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import type { TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { APP, clock, lifecycleServer, magicLinkIn, nextMail, ok, until } from "./support.js";

const SESSION_TTL_SECONDS = 3600;

interface SessionJson {
  id: string;
  username: string;
  email: string;
  created: string;
  expires: string;
  userId: string;
}

describe.each(ENGINES)("magic links (%s)", (engine) => {
  let catcher: SmtpCatcher;
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  const tokens: string[] = [];
  let users = 0;

  beforeAll(async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    t = await lifecycleServer(engine, catcher, {
      SESSION_TTL_SECONDS: String(SESSION_TTL_SECONDS),
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
    const username = `magic${n}`;
    const email = `magic${n}@example.com`;
    const answer = await ok(wire, "connect-json", "create", { username, email, password: "password-123" }, admin);
    return { id: (answer.json!.user as { id: string }).id, username, email };
  }

  async function sendAndCatch(email: string, extra: Record<string, unknown> = {}, protocol = PROTOCOLS[0]!) {
    const seen = catcher.to(email).length;
    await ok(wire, protocol, "sendMagicLink", { email, address: APP, endpoint: "/signin", ...extra }, admin);
    const mail = await nextMail(catcher, email, seen);
    const link = magicLinkIn(mail);
    tokens.push(link.token);
    return { mail, ...link };
  }

  const verify = (token: string, protocol = PROTOCOLS[0]!, headers = admin) =>
    rpc(wire, protocol, "verifyToken", { token }, headers);

  const expectNotValid = (answer: Awaited<ReturnType<typeof verify>>) => {
    expect(answer.code).toBe("ok");
    expect(answer.json).toEqual({ message: "invalid or expired" });
  };

  test.each(PROTOCOLS)(
    "%s: the mailed link's token signs the user in once, with Login's session, and verifies the email",
    async (protocol) => {
      const u = await newUser();
      const { mail, url, token } = await sendAndCatch(u.email, { fromName: "Example App" }, protocol);
      expect(mail).toMatchObject({ fromName: "Example App", subject: "Your sign-in link" });
      expect(url).toBe(`${APP}/signin?token=${token}`);
      expect(token.length).toBeGreaterThanOrEqual(43); // 256 bits, base64url
      const answer = await verify(token, protocol);
      expect(answer.code).toBe("ok");
      expect(answer.json!.isValid).toBe(true);
      const session = answer.json!.session as unknown as SessionJson;
      const login = (await ok(wire, protocol, "login", { username: u.username, password: "password-123" }, admin)).json!
        .session as unknown as SessionJson;
      expect(Object.keys(session).sort()).toEqual(Object.keys(login).sort());
      expect(session).toMatchObject({ username: u.username, email: u.email, userId: u.id });
      expect(Number(session.expires) - Number(session.created)).toBe(SESSION_TTL_SECONDS);
      expect(session.id).toHaveLength(login.id.length);
      const read = await ok(wire, protocol, "readSession", { sessionId: session.id }, admin);
      expect((read.json!.session as unknown as SessionJson).userId).toBe(u.id);
      const user = (await ok(wire, protocol, "read", { id: u.id }, admin)).json!.user as Record<string, unknown>;
      expect(user.verified).toBe(true);
      if (protocol === "m3o") {
        const raw = JSON.parse(answer.body.toString("utf8")) as { is_valid: boolean; session: Record<string, unknown> };
        expect(raw.is_valid).toBe(true);
        expect(raw.session.user_id).toBe(u.id);
        expect(typeof raw.session.expires).toBe("number");
      }
      expectNotValid(await verify(token, protocol));
    },
  );

  test.each(PROTOCOLS)(
    "%s: an unknown, malformed or foreign token is OK with is_valid false and 'invalid or expired'",
    async (protocol) => {
      const u = await newUser();
      const { token } = await sendAndCatch(u.email);
      expectNotValid(await verify("A".repeat(43), protocol));
      expectNotValid(await verify("x", protocol));
      expectNotValid(await verify(token, protocol, { ...admin, "micro-namespace": "elsewhere" }));
      if (protocol === "m3o") {
        const raw = JSON.parse((await verify("nope", protocol)).body.toString("utf8"));
        expect(raw).toEqual({ is_valid: false, message: "invalid or expired" });
      }
      // Empty and over-long tokens are errors of the field.
      const empty = await verify("", protocol);
      expect([empty.code, empty.message]).toEqual(["invalid_argument", "token: required"]);
      const long = await verify("a".repeat(300), protocol);
      expect([long.code, long.message]).toEqual(["invalid_argument", "token: must be at most 256 characters"]);
      // None of that used the real token up.
      expect((await verify(token, protocol)).json!.isValid).toBe(true);
    },
  );

  test.each(["connect-json", "grpc"] as const)(
    "%s: twelve VerifyToken calls racing with one token make exactly one session",
    async (protocol) => {
      const u = await newUser();
      const { token } = await sendAndCatch(u.email);
      const answers = await Promise.all(Array.from({ length: 12 }, () => verify(token, protocol)));
      expect(answers.map((a) => a.code)).toEqual(Array(12).fill("ok"));
      expect(answers.filter((a) => a.json!.isValid === true)).toHaveLength(1);
      const [row] = await rawQuery(
        t.config.databaseUrl,
        `SELECT count(*) AS n FROM sessions WHERE user_id = '${u.id}'`,
      );
      expect(Number(row!.n)).toBe(1);
    },
  );

  test("a new link voids the previous one", async () => {
    const u = await newUser();
    const first = await sendAndCatch(u.email);
    const second = await sendAndCatch(u.email);
    expectNotValid(await verify(first.token));
    expect((await verify(second.token)).json!.isValid).toBe(true);
  });

  test("a link expires after MAGIC_LINK_TTL_SECONDS (10 minutes)", async () => {
    const u = await newUser();
    const late = await sendAndCatch(u.email);
    try {
      clock.offsetMs += 601_000;
      expectNotValid(await verify(late.token));
      const inTime = await sendAndCatch(u.email);
      clock.offsetMs += 590_000;
      expect((await verify(inTime.token)).json!.isValid).toBe(true);
    } finally {
      clock.offsetMs = 0;
    }
  });

  test("a link sent before the email changed signs nobody in", async () => {
    const u = await newUser();
    const { token } = await sendAndCatch(u.email);
    await ok(wire, "connect-json", "update", { id: u.id, email: `new-${u.email}` }, admin);
    expectNotValid(await verify(token));
  });

  test.each(PROTOCOLS)(
    "%s: address must be an origin on REDIRECT_ORIGINS and endpoint a path, else InvalidArgument naming the field",
    async (protocol) => {
      const u = await newUser();
      const cases: Array<[Record<string, string>, string]> = [
        [{ address: "https://evil.example.com" }, "address: origin is not allowed (REDIRECT_ORIGINS)"],
        [{ address: "https://app.example.com.evil.com" }, "address: origin is not allowed (REDIRECT_ORIGINS)"],
        [{ address: "" }, "address: required"],
        [{ address: "javascript:alert(1)" }, "address: must be an http(s) URL without credentials"],
        [
          { address: `${APP}/base` },
          "address: must be an origin like https://app.example.com (the path goes in endpoint)",
        ],
        [
          { endpoint: "/signin?next=/admin" },
          "endpoint: must be a URL path like /magic-link, without query or fragment",
        ],
        [
          { endpoint: "//evil.example.com/x" },
          "endpoint: must be a URL path like /magic-link, without query or fragment",
        ],
        [{ endpoint: "/a b" }, "endpoint: must be a URL path like /magic-link, without query or fragment"],
        [{ endpoint: `/${"x".repeat(600)}` }, "endpoint: must be at most 512 characters"],
        [{ subject: "two\r\nBcc: x@example.com" }, "subject: must be one line without control characters"],
      ];
      for (const [fields, message] of cases) {
        const answer = await rpc(
          wire,
          protocol,
          "sendMagicLink",
          { email: u.email, address: APP, endpoint: "/signin", ...fields },
          admin,
        );
        expect([answer.code, answer.message]).toEqual(["invalid_argument", message]);
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(catcher.to(u.email)).toHaveLength(0);
    },
  );

  test("an endpoint without its leading slash (as M3O callers wrote it) and a custom text", async () => {
    const u = await newUser();
    const seen = catcher.to(u.email).length;
    await ok(
      wire,
      "m3o",
      "sendMagicLink",
      { email: u.email, address: APP, endpoint: "verify", textContent: "Sign in: $micro_verification_link !" },
      admin,
    );
    const mail = await nextMail(catcher, u.email, seen);
    const { token, url } = magicLinkIn(mail);
    tokens.push(token);
    expect(mail.text.trim()).toBe(`Sign in: ${APP}/verify?token=${token} !`);
    expect(url).toBe(`${APP}/verify?token=${token}`);
  });

  test("a public key may send (the service's own text only) and verify", async () => {
    const u = await newUser();
    const key = { authorization: `Bearer ${(await t.server.keys.create("default", "app", "public")).key}` };
    const forbidden = await rpc(
      wire,
      "m3o",
      "sendMagicLink",
      { email: u.email, address: APP, endpoint: "/in", textContent: "click" },
      key,
    );
    expect([forbidden.code, forbidden.httpStatus]).toEqual(["permission_denied", 403]);
    const seen = catcher.to(u.email).length;
    await ok(wire, "m3o", "sendMagicLink", { email: u.email, address: APP, endpoint: "/in" }, key);
    const { token } = magicLinkIn(await nextMail(catcher, u.email, seen));
    tokens.push(token);
    const answer = await verify(token, "m3o", key);
    expect(answer.json!.isValid).toBe(true);
  });

  test("no token ever reaches the logs or the database in clear, and sent bodies are erased", async () => {
    expect(tokens.length).toBeGreaterThan(10);
    const logs = t.logs.join("\n");
    for (const token of tokens) expect(logs).not.toContain(token);
    await until(async () =>
      (await rawQuery(t.config.databaseUrl, "SELECT body, status FROM mail_outbox")).every(
        (r) => r.body === "" && r.status === "sent",
      ),
    );
    const stored = JSON.stringify(await rawQuery(t.config.databaseUrl, "SELECT * FROM mail_tokens"));
    for (const token of tokens) expect(stored).not.toContain(token);
  });
});
