// A magic link for an account with TOTP on, on both engines over every
// protocol: VerifyToken spends the link but answers Login's second step
// (is_valid, mfa_required, an mfa_ticket, no session); VerifyMfa with a code
// then gives the session. Accounts without a second factor get exactly the
// answer they got before (a session, nothing else).
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { APP, lifecycleServer, magicLinkIn, nextMail, ok } from "../lifecycle/support.js";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import type { TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { codeAt } from "./support.js";

describe.each(ENGINES)("magic links and second factors (%s)", (engine) => {
  let catcher: SmtpCatcher;
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  let n = 0;

  beforeAll(async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    t = await lifecycleServer(engine, catcher, { MAILS_PER_ADDRESS: "1000" });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
    await catcher.stop();
  });

  async function newUser(withTotp: boolean) {
    const username = `link${++n}`;
    const email = `${username}@example.com`;
    const created = await ok(wire, "connect-json", "create", { username, email, password: "password-123" }, admin);
    const id = (created.json!.user as { id: string }).id;
    let secret = "";
    if (withTotp) {
      secret = ((await ok(wire, "connect-json", "enrollTotp", { userId: id }, admin)).json as { secret: string })
        .secret;
      // The confirming step is spent: the sign-in below uses the next one.
      await ok(wire, "connect-json", "confirmTotp", { userId: id, code: codeAt(secret, Date.now() - 30_000) }, admin);
    }
    return { id, username, email, secret };
  }

  async function linkToken(email: string): Promise<string> {
    const seen = catcher.to(email).length;
    await ok(wire, "connect-json", "sendMagicLink", { email, address: APP, endpoint: "/signin" }, admin);
    return magicLinkIn(await nextMail(catcher, email, seen)).token;
  }

  test.each(PROTOCOLS)("%s: the link answers an MFA ticket, and VerifyMfa gives the session", async (protocol) => {
    const u = await newUser(true);
    const answer = await ok(wire, protocol, "verifyToken", { token: await linkToken(u.email) }, admin);
    expect(answer.json!.isValid).toBe(true);
    expect(answer.json!.mfaRequired).toBe(true);
    expect(answer.json!.session).toBeUndefined();
    if (protocol === "m3o") {
      const raw = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
      expect(raw).toMatchObject({ is_valid: true, mfa_required: true });
      expect(raw).not.toHaveProperty("session");
    }
    const ticket = answer.json!.mfaTicket as string;
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const verified = await ok(
      wire,
      protocol,
      "verifyMfa",
      { mfaTicket: ticket, code: codeAt(u.secret, Date.now()) },
      admin,
    );
    expect(verified.json!.session).toMatchObject({ userId: u.id, username: u.username });
    // A new link asks for the second factor again.
    const again = await rpc(wire, protocol, "verifyToken", { token: await linkToken(u.email) }, admin);
    expect(again.json!.mfaRequired).toBe(true);
  });

  test("an account without a second factor gets a session and nothing else, on every protocol", async () => {
    for (const protocol of PROTOCOLS) {
      const u = await newUser(false);
      const answer = await ok(wire, protocol, "verifyToken", { token: await linkToken(u.email) }, admin);
      expect(Object.keys(answer.json!).sort()).toEqual(["isValid", "session"]);
      if (protocol === "m3o") {
        const raw = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
        expect(Object.keys(raw).sort()).toEqual(["is_valid", "message", "session"]);
      }
    }
  });
});
