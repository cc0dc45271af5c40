// Passkeys in a real Chromium, through the DevTools virtual authenticator
// (CTAP2, internal, resident keys, user verification), on both engines: the
// page registers a passkey and signs in passwordless with the generated
// client over connect-web; the RPCs the test makes itself go over every
// protocol. Then the rules: an answer is used once (replay refused), a
// challenge expires, another origin is refused, a sign counter that goes
// backwards is refused and logged, a removed passkey no longer signs in, a
// disabled account's valid assertion is answered "disabled" (as Login's right
// password is) and a session is never issued. A passkey sign-in is a
// session.created via passkey naming its call's key and request id.
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from "@jest/globals";
import { decodeAttestationObject } from "@simplewebauthn/server/helpers";
import type { Browser } from "playwright-core";
import { errorOf, expectedError } from "../accounts/support.js";
import { launchChromium } from "../browser/support/chromium.js";
import { handleOf, storedEvents } from "../events/support.js";
import { PROTOCOLS, type Protocol } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import type { Outcome, Plan } from "./page/main.js";
import {
  type AuthenticatorPage,
  openWithAuthenticator,
  type PageServer,
  startPasskeyPage,
} from "./support/passkey-page.js";
import { clock, type PasskeyWorld, startPasskeyWorld } from "./support/world.js";

jest.setTimeout(180_000);

const INVALID_CREDENTIALS = ["unauthenticated", "invalid credentials"];
const CHALLENGE_INVALID = ["invalid_argument", "the passkey challenge is invalid or expired; start again"];

describe.each(ENGINES)("passkeys in Chromium (%s)", (engine) => {
  let site: PageServer;
  let elsewhere: PageServer;
  let browser: Browser;
  let w: PasskeyWorld;
  const pages: AuthenticatorPage[] = [];

  beforeAll(async () => {
    [site, elsewhere] = await Promise.all([startPasskeyPage(), startPasskeyPage()]);
    w = await startPasskeyWorld(engine, {
      CORS_ORIGINS: `${site.origin},${elsewhere.origin}`,
      RP_ORIGINS: site.origin,
      RP_ID: "localhost",
      RP_NAME: "Passkey test",
    });
    browser = await launchChromium();
  });
  afterEach(async () => {
    clock.offsetMs = 0;
    await Promise.all(pages.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await w?.close();
    await Promise.all([site?.close(), elsewhere?.close()]);
  });

  async function open(origin = site.origin): Promise<AuthenticatorPage> {
    const p = await openWithAuthenticator(browser, origin);
    pages.push(p);
    return p;
  }

  function inPage<T>(p: AuthenticatorPage, fn: string, arg: unknown): Promise<Outcome<T>> {
    return p.page.evaluate(`${fn}(${JSON.stringify(arg)})`) as Promise<Outcome<T>>;
  }

  const plan = (extra: Partial<Plan> = {}): Plan => ({ baseUrl: w.t.url, key: w.publicKey, ...extra });

  /** A user with a passkey registered through the page (public key, the user's session as proof). */
  async function userWithPasskey(p: AuthenticatorPage, name = "Laptop") {
    const user = await w.newUser();
    const registered = await inPage<string>(
      p,
      "registerPasskey",
      plan({ userId: user.id, sessionId: user.session, name }),
    );
    if (!registered.ok) throw new Error(`registration failed: ${registered.code} ${registered.message}`);
    return { ...user, passkeyId: registered.value };
  }

  /** BeginPasskeyLogin over the protocol, then navigator.credentials.get() in the page. */
  async function assertion(p: AuthenticatorPage, protocol: Protocol = "connect-json") {
    const begin = await w.ok(protocol, "beginPasskeyLogin", {}, { authorization: `Bearer ${w.publicKey}` });
    const { optionsJson, handle } = begin.json as { optionsJson: string; handle: string };
    const got = await inPage<string>(p, "getAssertion", optionsJson);
    if (!got.ok) throw new Error(`navigator.credentials.get failed: ${got.message}`);
    return { handle, responseJson: got.value };
  }

  test("register through connect-web with a public key and the user's session; ListPasskeys shows it over every protocol", async () => {
    const p = await open();
    const user = await userWithPasskey(p, "Work laptop");
    expect(user.passkeyId).toMatch(/^pk_[0-9a-f]{24}$/);
    // A discoverable credential: it lives in the authenticator, for RP ID localhost.
    const { credentials } = await p.cdp.send("WebAuthn.getCredentials", { authenticatorId: p.authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: "localhost" });
    for (const protocol of PROTOCOLS) {
      const listed = await w.ok(protocol, "listPasskeys", { userId: user.id }, w.asUser(user.session));
      expect(listed.json!.passkeys).toEqual([
        expect.objectContaining({
          id: user.passkeyId,
          name: "Work laptop",
          credentialId: credentials[0]!.credentialId.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
          transports: ["internal"],
        }),
      ]);
    }
    // Without the user's session a public key may not register for them.
    const other = await w.newUser();
    const refused = await inPage<string>(p, "registerPasskey", plan({ userId: other.id, sessionId: user.session }));
    expect(refused).toMatchObject({ ok: false, code: "permission_denied" });
  });

  test("sign in passwordless through connect-web: a session exactly like Login's", async () => {
    const p = await open();
    const user = await userWithPasskey(p);
    const signedIn = await inPage<{ sessionId: string; userId: string; username: string }>(
      p,
      "signInWithPasskey",
      plan(),
    );
    expect(signedIn).toEqual({
      ok: true,
      value: { sessionId: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), userId: user.id, username: user.username },
    });
    if (!signedIn.ok) return;
    for (const protocol of PROTOCOLS) {
      const read = await w.ok(protocol, "readSession", { sessionId: signedIn.value.sessionId });
      const session = read.json!.session as { userId: string; created: string; expires: string };
      expect(session.userId).toBe(user.id);
      expect(Number(session.expires) - Number(session.created)).toBe(w.t.config.sessionTtlSeconds);
    }
    const listed = await w.ok("connect-json", "listPasskeys", { userId: user.id });
    expect(Number((listed.json!.passkeys as Array<{ lastUsed: string }>)[0]!.lastUsed)).toBeGreaterThan(0);
  });

  test.each(PROTOCOLS)(
    "%s: an assertion is used once (its sign-in an event naming the call): the same challenge again is refused, and under a new challenge it does not verify",
    async (protocol) => {
      const p = await open();
      const user = await userWithPasskey(p);
      const first = await assertion(p, protocol);
      const anyone = { authorization: `Bearer ${w.publicKey}` };
      const signedIn = await w.call(protocol, "finishPasskeyLogin", first, {
        ...anyone,
        "x-request-id": `${protocol}-passkey`,
      });
      expect(signedIn.code).toBe("ok");
      const session = (signedIn.json!.session as { id: string }).id;
      const event = (await storedEvents(w.t.config.databaseUrl, user.id)).find(
        (e) => e.request_id === `${protocol}-passkey`,
      );
      expect(event).toMatchObject({
        type: "session.created",
        actor_key: w.publicKeyId,
        actor_session: "",
        data: { session: handleOf(session), via: "passkey" },
      });
      const replayed = await w.call(protocol, "finishPasskeyLogin", first, anyone);
      expect([replayed.code, replayed.message]).toEqual(CHALLENGE_INVALID);
      const begin = await w.ok(protocol, "beginPasskeyLogin", {}, anyone);
      const underNew = await w.call(
        protocol,
        "finishPasskeyLogin",
        { handle: (begin.json as { handle: string }).handle, responseJson: first.responseJson },
        anyone,
      );
      expect([underNew.code, underNew.message]).toEqual(INVALID_CREDENTIALS);
    },
  );

  test("a challenge expires after 5 minutes, for sign-in and for registration", async () => {
    const p = await open();
    const user = await userWithPasskey(p);
    const late = await assertion(p);
    clock.offsetMs = 5 * 60_000 + 1_000;
    const answer = await w.call("connect-json", "finishPasskeyLogin", late);
    expect([answer.code, answer.message]).toEqual(CHALLENGE_INVALID);
    clock.offsetMs = 0;

    // Another authenticator: this one's passkey is in the options' excludeCredentials.
    const q = await open();
    const begin = await w.ok("grpc", "beginPasskeyRegistration", { userId: user.id });
    const created = await inPage<string>(q, "createCredential", (begin.json as { optionsJson: string }).optionsJson);
    if (!created.ok) throw new Error(created.message);
    clock.offsetMs = 5 * 60_000 + 1_000;
    const finish = await w.call("grpc", "finishPasskeyRegistration", {
      userId: user.id,
      responseJson: created.value,
    });
    expect([finish.code, finish.message]).toEqual(CHALLENGE_INVALID);
    clock.offsetMs = 0;
    // Within the time it works (and a second Finish with the same answer is refused).
    const again = await w.ok("grpc", "beginPasskeyRegistration", { userId: user.id });
    const fresh = await inPage<string>(
      await open(),
      "createCredential",
      (again.json as { optionsJson: string }).optionsJson,
    );
    if (!fresh.ok) throw new Error(fresh.message);
    const request = { userId: user.id, responseJson: fresh.value, name: "Second" };
    expect((await w.call("grpc", "finishPasskeyRegistration", request)).code).toBe("ok");
    const twice = await w.call("grpc", "finishPasskeyRegistration", request);
    expect([twice.code, twice.message]).toEqual(CHALLENGE_INVALID);
  });

  test("user verification is required: a registration whose authenticator did not verify the user is refused", async () => {
    const p = await open();
    const user = await w.newUser();
    const begin = await w.ok("connect-json", "beginPasskeyRegistration", { userId: user.id });
    const created = await inPage<string>(p, "createCredential", (begin.json as { optionsJson: string }).optionsJson);
    if (!created.ok) throw new Error(created.message);
    // With "none" attestation nothing signs the authenticator data: clear its UV flag (bit 2 of the flags byte).
    const answer = JSON.parse(created.value) as { response: { attestationObject: string } };
    const attestation = Buffer.from(answer.response.attestationObject, "base64url");
    const authData = decodeAttestationObject(new Uint8Array(attestation)).get("authData");
    const at = attestation.indexOf(Buffer.from(authData));
    expect(attestation[at + 32]! & 0x04).toBe(0x04);
    attestation[at + 32] = attestation[at + 32]! & ~0x04;
    answer.response.attestationObject = attestation.toString("base64url");
    const refused = await w.call("connect-json", "finishPasskeyRegistration", {
      userId: user.id,
      responseJson: JSON.stringify(answer),
    });
    expect([refused.code, refused.message]).toEqual([
      "invalid_argument",
      "response_json: lacks user verification, which is required",
    ]);
    expect((await w.ok("connect-json", "listPasskeys", { userId: user.id })).json!.passkeys ?? []).toEqual([]);
  });

  test("a ceremony on an origin not in RP_ORIGINS is refused: registration and sign-in", async () => {
    const p = await open();
    const user = await userWithPasskey(p);
    const stranger = await open(elsewhere.origin);
    const begin = await w.ok("connect-binary", "beginPasskeyRegistration", { userId: user.id });
    const created = await inPage<string>(
      stranger,
      "createCredential",
      (begin.json as { optionsJson: string }).optionsJson,
    );
    if (!created.ok) throw new Error(created.message);
    const finish = await w.call("connect-binary", "finishPasskeyRegistration", {
      userId: user.id,
      responseJson: created.value,
    });
    expect([finish.code, finish.message]).toEqual([
      "invalid_argument",
      "response_json: was made on an origin not in RP_ORIGINS",
    ]);
    // The registered passkey itself, copied into an authenticator on the other origin, signs there: refused.
    const { credentials } = await p.cdp.send("WebAuthn.getCredentials", { authenticatorId: p.authenticatorId });
    const thief = await open(elsewhere.origin);
    await thief.cdp.send("WebAuthn.addCredential", {
      authenticatorId: thief.authenticatorId,
      credential: credentials[0]!,
    });
    const stolen = await assertion(thief);
    const answer = await w.call("connect-json", "finishPasskeyLogin", stolen);
    expect([answer.code, answer.message]).toEqual(INVALID_CREDENTIALS);
    expect((await w.ok("connect-json", "listPasskeys", { userId: user.id })).json!.passkeys).toHaveLength(1);
  });

  test("a sign counter that goes backwards (a cloned authenticator) is refused and logged", async () => {
    const p = await open();
    const user = await userWithPasskey(p);
    for (let i = 0; i < 2; i++) {
      expect((await w.call("grpc-web", "finishPasskeyLogin", await assertion(p, "grpc-web"))).code).toBe("ok");
    }
    const { credentials } = await p.cdp.send("WebAuthn.getCredentials", { authenticatorId: p.authenticatorId });
    const original = credentials[0]!;
    expect(original.signCount).toBeGreaterThanOrEqual(2);
    // The clone: the same key, its counter behind the one the service saw last.
    const clone = await open();
    await clone.cdp.send("WebAuthn.addCredential", {
      authenticatorId: clone.authenticatorId,
      credential: { ...original, signCount: 0 },
    });
    const answer = await w.call("grpc-web", "finishPasskeyLogin", await assertion(clone, "grpc-web"));
    expect([answer.code, answer.message]).toEqual(INVALID_CREDENTIALS);
    expect(
      w.t.logs.some((line) => line.includes("possible cloned authenticator") && line.includes(user.passkeyId)),
    ).toBe(true);
    // The genuine authenticator, ahead of the clone, still signs in.
    expect((await w.call("grpc-web", "finishPasskeyLogin", await assertion(p, "grpc-web"))).code).toBe("ok");
  });

  test.each(PROTOCOLS)("%s: a removed passkey no longer signs in; removing it again is not found", async (protocol) => {
    const p = await open();
    const user = await userWithPasskey(p);
    const removed = await w.call(
      protocol,
      "removePasskey",
      { userId: user.id, passkeyId: user.passkeyId },
      w.asUser(user.session),
    );
    expect(removed.code).toBe("ok");
    expect((await w.ok(protocol, "listPasskeys", { userId: user.id })).json!.passkeys ?? []).toEqual([]);
    const signIn = await inPage(p, "signInWithPasskey", plan());
    expect(signIn).toEqual({ ok: false, code: "unauthenticated", message: "invalid credentials" });
    const again = await w.call(protocol, "removePasskey", { userId: user.id, passkeyId: user.passkeyId });
    expect([again.code, again.message]).toEqual(["not_found", "passkey not found"]);
  });

  test.each(PROTOCOLS)(
    "%s: a disabled account's valid assertion is PermissionDenied ACCOUNT_DISABLED, an invalid one stays invalid credentials; no session",
    async (protocol) => {
      const p = await open();
      const user = await userWithPasskey(p);
      await w.ok("connect-json", "disableUser", { id: user.id });
      const sessions = async () =>
        (await rawQuery(w.t.config.databaseUrl, `SELECT 1 FROM sessions WHERE user_id = '${user.id}'`)).length;
      const before = await sessions();
      const anyone = { authorization: `Bearer ${w.publicKey}` };
      const valid = await assertion(p, protocol);
      const refused = await w.call(protocol, "finishPasskeyLogin", valid, anyone);
      expect({ message: refused.message, ...errorOf(protocol, refused) }).toEqual({
        message: "this account is disabled",
        ...expectedError(protocol, "permission_denied", "ACCOUNT_DISABLED"),
      });
      // The same answer under a new challenge does not verify: that says nothing about the account.
      const begin = await w.ok(protocol, "beginPasskeyLogin", {}, anyone);
      const invalid = await w.call(
        protocol,
        "finishPasskeyLogin",
        { handle: (begin.json as { handle: string }).handle, responseJson: valid.responseJson },
        anyone,
      );
      expect([invalid.code, invalid.message]).toEqual(INVALID_CREDENTIALS);
      expect(await sessions()).toBe(before);
      // Enabled again, the passkey signs in.
      await w.ok("connect-json", "enableUser", { id: user.id });
      expect((await w.call(protocol, "finishPasskeyLogin", await assertion(p, protocol), anyone)).code).toBe("ok");
    },
  );

  test("the console's user page lists the passkeys and an admin removes one; it no longer signs in", async () => {
    const p = await open();
    const user = await userWithPasskey(p, "Phone");
    const context = await browser.newContext();
    try {
      const consolePage = await context.newPage();
      consolePage.setDefaultTimeout(60_000);
      const problems: string[] = [];
      consolePage.on("pageerror", (error) => problems.push(String(error)));
      await consolePage.goto(`${w.t.url}/console`);
      await consolePage.getByLabel("API key", { exact: true }).fill(w.t.adminKey);
      await consolePage.getByLabel("Namespace", { exact: true }).fill("default");
      await consolePage.getByRole("button", { name: "Open the console" }).click();
      await consolePage.getByLabel("Username starts with", { exact: true }).fill(user.username);
      await consolePage.getByRole("button", { name: "Search" }).click();
      await consolePage.getByRole("button", { name: user.username, exact: true }).click();
      await consolePage.getByRole("heading", { name: `User ${user.username}`, level: 2 }).waitFor();
      const panel = consolePage.getByRole("region", { name: "Passkeys" });
      await panel.getByText("Phone").waitFor();
      expect(await panel.textContent()).toContain("never used");
      await panel.getByRole("button", { name: "Remove the passkey Phone" }).click();
      await consolePage.getByRole("dialog").getByRole("button", { name: "Remove passkey" }).click();
      await consolePage.getByRole("status").getByText('The passkey "Phone" was removed.').waitFor();
      await panel.getByText("No passkeys.").waitFor();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
    expect((await w.ok("connect-json", "listPasskeys", { userId: user.id })).json!.passkeys ?? []).toEqual([]);
    expect(await inPage(p, "signInWithPasskey", plan())).toEqual({
      ok: false,
      code: "unauthenticated",
      message: "invalid credentials",
    });
  });
});
