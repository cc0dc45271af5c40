// A passkey as a second factor, in a real Chromium with the DevTools virtual
// authenticator, on both engines: an account with a passkey gets
// mfa_required and a ticket from a password Login (as with TOTP);
// BeginPasskeyMfa gives options limited to that user's passkeys; VerifyMfa
// with the assertion gives the session. Replays, another user's passkey, a
// unknown or used ticket are refused; passwordless sign-in still answers
// a session at once (the passkey with user verification is two factors).
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from "@jest/globals";
import type { Browser } from "playwright-core";
import { launchChromium } from "../browser/support/chromium.js";
import { PROTOCOLS, type Protocol } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import type { Outcome, Plan } from "./page/main.js";
import {
  type AuthenticatorPage,
  openWithAuthenticator,
  type PageServer,
  startPasskeyPage,
} from "./support/passkey-page.js";
import { PASSWORD, type PasskeyWorld, startPasskeyWorld } from "./support/world.js";

jest.setTimeout(180_000);

const TICKET_INVALID = ["unauthenticated", "invalid or expired mfa_ticket; sign in again"];
const CODE_INVALID = ["unauthenticated", "invalid code"];

describe.each(ENGINES)("a passkey as a second factor, in Chromium (%s)", (engine) => {
  let site: PageServer;
  let browser: Browser;
  let w: PasskeyWorld;
  const pages: AuthenticatorPage[] = [];

  beforeAll(async () => {
    site = await startPasskeyPage();
    w = await startPasskeyWorld(engine, { CORS_ORIGINS: site.origin, RP_ORIGINS: site.origin, RP_ID: "localhost" });
    browser = await launchChromium();
  });
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await w?.close();
    await site?.close();
  });

  async function open(): Promise<AuthenticatorPage> {
    const p = await openWithAuthenticator(browser, site.origin);
    pages.push(p);
    return p;
  }

  function inPage<T>(p: AuthenticatorPage, fn: string, arg: unknown): Promise<Outcome<T>> {
    return p.page.evaluate(`${fn}(${JSON.stringify(arg)})`) as Promise<Outcome<T>>;
  }

  const plan = (extra: Partial<Plan> = {}): Plan => ({ baseUrl: w.t.url, key: w.publicKey, ...extra });
  const anyone = () => ({ authorization: `Bearer ${w.publicKey}` });

  async function userWithPasskey(p: AuthenticatorPage) {
    const user = await w.newUser();
    const registered = await inPage<string>(p, "registerPasskey", plan({ userId: user.id, sessionId: user.session }));
    if (!registered.ok) throw new Error(`registration failed: ${registered.code} ${registered.message}`);
    const { credentials } = await p.cdp.send("WebAuthn.getCredentials", { authenticatorId: p.authenticatorId });
    return { ...user, passkeyId: registered.value, credentialId: credentials[0]!.credentialId };
  }

  /** A password Login (public key) that must answer a ticket, not a session. */
  async function ticketFor(username: string, protocol: Protocol): Promise<string> {
    const login = await w.ok(protocol, "login", { username, password: PASSWORD }, anyone());
    expect(login.json).toEqual({ mfaRequired: true, mfaTicket: expect.any(String) });
    return login.json!.mfaTicket as string;
  }

  /** BeginPasskeyMfa for the ticket, then navigator.credentials.get() in the page. */
  async function assertionFor(p: AuthenticatorPage, ticket: string, protocol: Protocol) {
    const begin = await w.ok(protocol, "beginPasskeyMfa", { mfaTicket: ticket }, anyone());
    const optionsJson = (begin.json as { optionsJson: string }).optionsJson;
    const got = await inPage<string>(p, "getAssertion", optionsJson);
    if (!got.ok) throw new Error(`navigator.credentials.get failed: ${got.message}`);
    return { optionsJson, responseJson: got.value };
  }

  test.each(PROTOCOLS)(
    "%s: password Login asks for the second factor; the passkey's assertion for the ticket gives the session, once",
    async (protocol) => {
      const p = await open();
      const user = await userWithPasskey(p);
      const ticket = await ticketFor(user.username, protocol);
      const { optionsJson, responseJson } = await assertionFor(p, ticket, protocol);
      // Only this user's passkeys are offered, with user verification required.
      const options = JSON.parse(optionsJson) as {
        allowCredentials: Array<{ id: string }>;
        userVerification: string;
      };
      expect(options.userVerification).toBe("required");
      expect(options.allowCredentials.map((c) => Buffer.from(c.id, "base64url").toString("base64"))).toEqual([
        Buffer.from(user.credentialId, "base64").toString("base64"),
      ]);
      const verified = await w.call(
        protocol,
        "verifyMfa",
        { mfaTicket: ticket, passkeyResponseJson: responseJson },
        anyone(),
      );
      expect(verified.code).toBe("ok");
      const session = verified.json!.session as { id: string; userId: string; created: string; expires: string };
      expect(session.userId).toBe(user.id);
      expect(Number(session.expires) - Number(session.created)).toBe(w.t.config.sessionTtlSeconds);
      expect((await w.call(protocol, "readSession", { sessionId: session.id })).code).toBe("ok");
      // The ticket is spent: the same answer again is refused.
      const replayed = await w.call(
        protocol,
        "verifyMfa",
        { mfaTicket: ticket, passkeyResponseJson: responseJson },
        anyone(),
      );
      expect([replayed.code, replayed.message]).toEqual(TICKET_INVALID);
    },
  );

  test("another user's passkey does not answer the ticket (invalid code); the right one then does", async () => {
    const p = await open();
    const user = await userWithPasskey(p);
    const q = await open();
    await userWithPasskey(q);
    const ticket = await ticketFor(user.username, "connect-json");
    // q's authenticator holds no passkey the options allow: it signs with its own user's passkey instead.
    const begin = await w.ok("connect-json", "beginPasskeyMfa", { mfaTicket: ticket }, anyone());
    const options = JSON.parse((begin.json as { optionsJson: string }).optionsJson) as Record<string, unknown>;
    const got = await inPage<string>(q, "getAssertion", JSON.stringify({ ...options, allowCredentials: [] }));
    if (!got.ok) throw new Error(got.message);
    const refused = await w.call("connect-json", "verifyMfa", { mfaTicket: ticket, passkeyResponseJson: got.value });
    expect([refused.code, refused.message]).toEqual(CODE_INVALID);
    // The right passkey still answers the ticket (4 failures left).
    const { responseJson } = await assertionFor(p, ticket, "connect-json");
    expect(
      (await w.call("connect-json", "verifyMfa", { mfaTicket: ticket, passkeyResponseJson: responseJson })).code,
    ).toBe("ok");
  });

  test("BeginPasskeyMfa needs a live ticket; passwordless sign-in answers a session at once; without the passkey Login answers a session again", async () => {
    const noTicket = await w.call("grpc", "beginPasskeyMfa", { mfaTicket: "A".repeat(43) }, anyone());
    expect([noTicket.code, noTicket.message]).toEqual(TICKET_INVALID);
    const p = await open();
    const user = await userWithPasskey(p);
    // The passkey alone signs in at once: it is already two factors (possession and user verification).
    const signedIn = await inPage<{ userId: string }>(p, "signInWithPasskey", plan());
    expect(signedIn).toMatchObject({ ok: true, value: { userId: user.id } });
    // Once the passkey is removed, password Login answers a session again.
    await w.ok("grpc", "removePasskey", { userId: user.id, passkeyId: user.passkeyId });
    const login = await w.ok("grpc", "login", { username: user.username, password: PASSWORD }, anyone());
    expect(login.json!.session).toBeDefined();
    expect(login.json!.mfaRequired).toBeUndefined();
  });
});
