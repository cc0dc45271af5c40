// The passkey RPCs' bad input over every protocol, on both engines, without a
// browser: each answer is the documented code with a message naming the
// field and the rule (or the reason's fixed text), never Internal. Challenges
// are bound to their purpose and user (answers are built here, as a careless
// or hostile client would send them), and with RP_ORIGINS unset every
// ceremony answers PASSKEYS_OFF.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { PROTOCOLS } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { type PasskeyWorld, startPasskeyWorld } from "./support/world.js";

const ORIGIN = "http://localhost:9";

/** A registration answer of the right shape, for a challenge, that no authenticator made. */
function forgedRegistration(challenge: string, origin = ORIGIN): string {
  const clientDataJSON = Buffer.from(JSON.stringify({ type: "webauthn.create", challenge, origin })).toString(
    "base64url",
  );
  return JSON.stringify({
    id: "AAAA",
    rawId: "AAAA",
    type: "public-key",
    response: { clientDataJSON, attestationObject: "AAAA", transports: ["internal"] },
    clientExtensionResults: {},
  });
}

function forgedAssertion(challenge: string): string {
  const clientDataJSON = Buffer.from(JSON.stringify({ type: "webauthn.get", challenge, origin: ORIGIN })).toString(
    "base64url",
  );
  return JSON.stringify({
    id: "AAAA",
    rawId: "AAAA",
    type: "public-key",
    response: { clientDataJSON, authenticatorData: "AAAA", signature: "AAAA" },
    clientExtensionResults: {},
  });
}

const optionsChallenge = (json: unknown) =>
  (JSON.parse((json as { optionsJson: string }).optionsJson) as { challenge: string }).challenge;

describe.each(ENGINES)("passkey RPCs: bad input over every protocol (%s)", (engine) => {
  let w: PasskeyWorld;
  let off: PasskeyWorld;
  let user: { id: string; session: string };
  let other: { id: string; session: string };

  beforeAll(async () => {
    w = await startPasskeyWorld(engine, { RP_ORIGINS: ORIGIN, RP_ID: "localhost" });
    off = await startPasskeyWorld(engine, {});
    user = await w.newUser();
    other = await w.newUser();
  });
  afterAll(async () => {
    await w?.close();
    await off?.close();
  });

  test.each(PROTOCOLS)("%s: malformed and oversized fields name the field and the rule", async (protocol) => {
    const cases: Array<[Parameters<PasskeyWorld["call"]>[1], Record<string, unknown>, string, string]> = [
      ["beginPasskeyRegistration", { userId: "" }, "invalid_argument", "user_id: required"],
      ["beginPasskeyRegistration", { userId: "no-such-user" }, "not_found", "user not found"],
      [
        "finishPasskeyRegistration",
        { userId: user.id, responseJson: "{not json" },
        "invalid_argument",
        "response_json: must be JSON: the browser's PublicKeyCredential as JSON",
      ],
      [
        "finishPasskeyRegistration",
        { userId: user.id, responseJson: "x".repeat(32 * 1024 + 1) },
        "invalid_argument",
        "response_json: must be at most 32768 characters",
      ],
      [
        "finishPasskeyRegistration",
        { userId: user.id, responseJson: "[1,2]" },
        "invalid_argument",
        "response_json: must be a JSON object: the browser's PublicKeyCredential as JSON",
      ],
      [
        "finishPasskeyRegistration",
        { userId: user.id, responseJson: JSON.stringify({ id: "AAAA", rawId: "AAAA", type: "public-key" }) },
        "invalid_argument",
        "response_json: response must be an object",
      ],
      [
        "finishPasskeyRegistration",
        { userId: user.id, responseJson: forgedRegistration("AAAA"), name: "n".repeat(65) },
        "invalid_argument",
        "name: must be at most 64 characters",
      ],
      [
        "finishPasskeyRegistration",
        { userId: user.id, responseJson: forgedRegistration("AAAA"), name: "tab\there" },
        "invalid_argument",
        "name: must not contain control characters",
      ],
      [
        "finishPasskeyLogin",
        { handle: "", responseJson: forgedAssertion("AAAA") },
        "invalid_argument",
        "handle: required",
      ],
      [
        "finishPasskeyLogin",
        { handle: "short", responseJson: forgedAssertion("AAAA") },
        "invalid_argument",
        "handle: must be the handle BeginPasskeyLogin gave (43 base64url characters)",
      ],
      [
        "finishPasskeyLogin",
        { handle: "A".repeat(43), responseJson: "" },
        "invalid_argument",
        "response_json: required",
      ],
      ["listPasskeys", { userId: "bad id!" }, "invalid_argument", "user_id: must be 1 to 64 of A-Z a-z 0-9 . _ -"],
      ["listPasskeys", { userId: "no-such-user" }, "not_found", "user not found"],
      [
        "removePasskey",
        { userId: user.id, passkeyId: "x" },
        "invalid_argument",
        "passkey_id: must be a passkey id as ListPasskeys gives it (pk_ and 24 hex digits)",
      ],
      ["removePasskey", { userId: user.id, passkeyId: `pk_${"0".repeat(24)}` }, "not_found", "passkey not found"],
    ];
    for (const [method, request, code, message] of cases) {
      const answer = await w.call(protocol, method, request as never);
      expect({
        method,
        request: JSON.stringify(request).slice(0, 80),
        code: answer.code,
        message: answer.message,
      }).toEqual({
        method,
        request: JSON.stringify(request).slice(0, 80),
        code,
        message,
      });
    }
  });

  test.each(PROTOCOLS)("%s: a challenge answers only its own ceremony and user, once", async (protocol) => {
    const challengeInvalid = ["invalid_argument", "the passkey challenge is invalid or expired; start again"];
    // Never issued.
    const unknown = await w.call(protocol, "finishPasskeyRegistration", {
      userId: user.id,
      responseJson: forgedRegistration("A".repeat(43)),
    });
    expect([unknown.code, unknown.message]).toEqual(challengeInvalid);
    // Issued for another user.
    const begun = await w.ok(protocol, "beginPasskeyRegistration", { userId: other.id });
    const stolen = await w.call(protocol, "finishPasskeyRegistration", {
      userId: user.id,
      responseJson: forgedRegistration(optionsChallenge(begun.json)),
    });
    expect([stolen.code, stolen.message]).toEqual(challengeInvalid);
    // A sign-in's challenge does not register.
    const login = await w.ok(protocol, "beginPasskeyLogin", {});
    const handle = (login.json as { handle: string }).handle;
    expect(optionsChallenge(login.json)).toBe(handle);
    const crossed = await w.call(protocol, "finishPasskeyRegistration", {
      userId: user.id,
      responseJson: forgedRegistration(handle),
    });
    expect([crossed.code, crossed.message]).toEqual(challengeInvalid);
    // The right challenge with an answer no authenticator made: refused as not verifying; then the challenge is spent.
    const mine = await w.ok(protocol, "beginPasskeyRegistration", { userId: user.id });
    const request = { userId: user.id, responseJson: forgedRegistration(optionsChallenge(mine.json)) };
    const forged = await w.call(protocol, "finishPasskeyRegistration", request);
    expect([forged.code, forged.message]).toEqual(["invalid_argument", "response_json: does not verify"]);
    const again = await w.call(protocol, "finishPasskeyRegistration", request);
    expect([again.code, again.message]).toEqual(challengeInvalid);
    // A forged assertion for a live handle names no passkey: "invalid credentials", as any failed sign-in.
    const fresh = await w.ok(protocol, "beginPasskeyLogin", {});
    const h = (fresh.json as { handle: string }).handle;
    const signIn = await w.call(protocol, "finishPasskeyLogin", { handle: h, responseJson: forgedAssertion(h) });
    expect([signIn.code, signIn.message]).toEqual(["unauthenticated", "invalid credentials"]);
  });

  test.each(PROTOCOLS)("%s: with RP_ORIGINS unset every ceremony answers PASSKEYS_OFF", async (protocol) => {
    const u = await off.newUser();
    // M3O's error shape has no FailedPrecondition: it answers 400, as for SEARCH_TOO_BROAD.
    const offAnswer = [
      protocol === "m3o" ? "invalid_argument" : "failed_precondition",
      "passkeys are off on this service (RP_ORIGINS is not set)",
    ];
    for (const [method, request] of [
      ["beginPasskeyRegistration", { userId: u.id }],
      ["finishPasskeyRegistration", { userId: u.id, responseJson: forgedRegistration("A".repeat(43)) }],
      ["beginPasskeyLogin", {}],
      ["finishPasskeyLogin", { handle: "A".repeat(43), responseJson: forgedAssertion("A".repeat(43)) }],
    ] as const) {
      const answer = await off.call(protocol, method, request);
      expect([method, answer.code, answer.message]).toEqual([method, ...offAnswer]);
    }
    // Listing and removing still work: an admin can clean up after passkeys are turned off.
    expect((await off.ok(protocol, "listPasskeys", { userId: u.id })).json!.passkeys ?? []).toEqual([]);
  });
});
