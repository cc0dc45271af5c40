// The recovery flows' events, on both engines: a password reset with the
// mailed code is a user.password_changed (via reset) about the code's user,
// a magic link's sign-in a session.created (via magic_link); a wrong code
// writes none. Neither carries the code, the token or the session id.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { APP, codeIn, lifecycleServer, magicLinkIn, nextMail } from "../lifecycle/support.js";
import { rpc } from "../reliability/support/rpc.js";
import { Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import type { TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { expectNoSecrets, handleOf, ok, storedEvents } from "./support.js";

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

  test("reset and magic link leave their events, and no secret", async () => {
    const email = "rec@example.com";
    const made = await ok(wire, "connect-json", "create", { username: "rec", email, password: "password-1" }, admin);
    const id = (made.json!.user as { id: string }).id;

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

    const events = await storedEvents(t.config.databaseUrl, id);
    const reset = events.find((e) => e.request_id === "reset-1");
    expect(reset).toMatchObject({
      type: "user.password_changed",
      user_id: id,
      data: { via: "reset", sessions_revoked: true },
    });
    const magic = events.find((e) => e.request_id === "magic-1");
    expect(magic).toMatchObject({
      type: "session.created",
      user_id: id,
      data: { session: handleOf(session), via: "magic_link" },
    });
    expectNoSecrets(JSON.stringify(await storedEvents(t.config.databaseUrl)), [code, token, session, "password-2"]);
  });
});
