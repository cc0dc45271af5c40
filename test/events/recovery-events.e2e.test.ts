// The recovery flows' events, on both engines: a password reset with the
// mailed code is a user.password_changed (via reset) about the code's user,
// a magic link's sign-in a session.created (via magic_link), VerifyEmail a
// user.verified, each naming the key and request id of its call; the
// verification link opened in a browser (no key, no call) a user.verified
// via link naming none; a wrong code writes none. A reset or a magic link that
// is what verified the address also writes a user.verified (via reset or
// magic_link), once: not when the address was verified already. None carries
// the code, the token or the session id.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { APP, codeIn, lifecycleServer, linkIn, magicLinkIn, nextMail, openLink } from "../lifecycle/support.js";
import { rpc } from "../reliability/support/rpc.js";
import { type Protocol, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import type { TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { bootstrapKeyId, expectNoSecrets, handleOf, ok, storedEvents } from "./support.js";

describe.each(ENGINES)("recovery events (%s)", (engine) => {
  let catcher: SmtpCatcher;
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;

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

  /** Creates a user with password-1; returns its id. */
  async function createUser(username: string, email: string, protocol: Protocol = "connect-json"): Promise<string> {
    const made = await ok(wire, protocol, "create", { username, email, password: "password-1" }, admin);
    return (made.json!.user as { id: string }).id;
  }

  test("reset, magic link and email verification leave their events, naming their call, and no secret", async () => {
    const email = "rec@example.com";
    const id = await createUser("rec", email);

    await ok(wire, "grpc", "sendPasswordResetEmail", { email }, admin);
    const code = codeIn(await nextMail(catcher, email, 0));
    const before = (await storedEvents(t.config.databaseUrl, id)).length;
    const wrong = code === "000000" ? "111111" : "000000";
    const bad = await rpc(
      wire,
      "grpc",
      "resetPassword",
      { email, code: wrong, newPassword: "password-2", confirmPassword: "password-2" },
      admin,
    );
    expect(bad.code).toBe("invalid_argument");
    expect((await storedEvents(t.config.databaseUrl, id)).length).toBe(before);
    await ok(
      wire,
      "grpc",
      "resetPassword",
      { email, code, newPassword: "password-2", confirmPassword: "password-2" },
      { ...admin, "x-request-id": "reset-1" },
    );

    await ok(wire, "m3o", "sendMagicLink", { email, address: APP, endpoint: "/signin" }, admin);
    const { token } = magicLinkIn(await nextMail(catcher, email, 1));
    const signed = await ok(wire, "m3o", "verifyToken", { token }, { ...admin, "x-request-id": "magic-1" });
    const session = (signed.json!.session as { id: string }).id;

    await ok(wire, "connect-binary", "sendVerificationEmail", { email }, admin);
    const verification = linkIn(await nextMail(catcher, email, 2));
    await ok(wire, "grpc-web", "verifyEmail", { token: verification.token }, { ...admin, "x-request-id": "verify-1" });

    const actor = { actor_key: bootstrapKeyId(t.adminKey), actor_session: "" };
    const events = await storedEvents(t.config.databaseUrl, id);
    const reset = events.find((e) => e.request_id === "reset-1");
    expect(reset).toMatchObject({
      type: "user.password_changed",
      user_id: id,
      ...actor,
      data: { via: "reset", sessions_revoked: true },
    });
    const magic = events.find((e) => e.request_id === "magic-1");
    expect(magic).toMatchObject({
      type: "session.created",
      user_id: id,
      ...actor,
      data: { session: handleOf(session), via: "magic_link" },
    });
    const verified = events.find((e) => e.request_id === "verify-1");
    expect(verified).toMatchObject({ type: "user.verified", user_id: id, ...actor, data: {} });

    // The link in the mail, opened in a browser: no key made that request.
    const other = "rec-link@example.com";
    const otherId = await createUser("rec-link", other);
    await ok(wire, "connect-json", "sendVerificationEmail", { email: other }, admin);
    const link = linkIn(await nextMail(catcher, other, 0));
    expect((await openLink(t, link.path)).status).toBe(200);
    const byLink = (await storedEvents(t.config.databaseUrl, otherId)).filter((e) => e.type === "user.verified");
    expect(byLink).toMatchObject([{ actor_key: "", actor_session: "", request_id: "", data: { via: "link" } }]);

    expectNoSecrets(JSON.stringify(await storedEvents(t.config.databaseUrl)), [
      code,
      token,
      session,
      "password-2",
      verification.token,
      link.token,
    ]);
  });

  test("a reset or a magic link that verifies the address says so once; on a verified address it writes no user.verified", async () => {
    const actor = { actor_key: bootstrapKeyId(t.adminKey), actor_session: "" };
    const typesOf = async (userId: string, requestId: string) =>
      (await storedEvents(t.config.databaseUrl, userId)).filter((e) => e.request_id === requestId);

    const email = "rec-reset@example.com";
    const id = await createUser("rec-reset", email);
    for (const [round, requestId] of [
      [0, "reset-verifies"],
      [1, "reset-again"],
    ] as const) {
      await ok(wire, "connect-json", "sendPasswordResetEmail", { email }, admin);
      const code = codeIn(await nextMail(catcher, email, round));
      const password = `password-${round + 5}`;
      await ok(
        wire,
        "connect-json",
        "resetPassword",
        { email, code, newPassword: password, confirmPassword: password },
        { ...admin, "x-request-id": requestId },
      );
    }
    const first = await typesOf(id, "reset-verifies");
    expect(first.map((e) => e.type)).toEqual(["user.password_changed", "user.verified"]);
    expect(first[1]).toMatchObject({ user_id: id, ...actor, data: { via: "reset" } });
    expect((await typesOf(id, "reset-again")).map((e) => e.type)).toEqual(["user.password_changed"]);

    const other = "rec-magic@example.com";
    const otherId = await createUser("rec-magic", other, "grpc");
    for (const [round, requestId] of [
      [0, "magic-verifies"],
      [1, "magic-again"],
    ] as const) {
      await ok(wire, "m3o", "sendMagicLink", { email: other, address: APP, endpoint: "/signin" }, admin);
      const { token } = magicLinkIn(await nextMail(catcher, other, round));
      await ok(wire, "m3o", "verifyToken", { token }, { ...admin, "x-request-id": requestId });
    }
    const magic = await typesOf(otherId, "magic-verifies");
    expect(magic.map((e) => e.type)).toEqual(["user.verified", "session.created"]);
    expect(magic[0]).toMatchObject({ user_id: otherId, ...actor, data: { via: "magic_link" } });
    expect((await typesOf(otherId, "magic-again")).map((e) => e.type)).toEqual(["session.created"]);
  });
});
