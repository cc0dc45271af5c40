// DisableUser / EnableUser on both engines over every protocol: the
// sessions end at once, Login says "this account is disabled" only to the
// right password, Read/List/Search show it, verification mail and links stop,
// a login racing the disable never leaves a live session, and enabling lets
// the user sign in anew.
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { APP, codeIn, lifecycleServer, linkIn, magicLinkIn, nextMail, until } from "../lifecycle/support.js";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import type { TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { errorOf, expectedError, okCall } from "./support.js";

const PASSWORD = "password-123";

describe.each(ENGINES)("disabled accounts (%s)", (engine) => {
  let catcher: SmtpCatcher;
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  let n = 0;

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

  async function user() {
    const username = `banned${++n}`;
    const email = `${username}@example.com`;
    const id = (
      (await okCall(wire, "connect-json", "create", { username, email, password: PASSWORD }, admin)).user as JsonObject
    ).id as string;
    return { id, username, email };
  }
  const login = (username: string, password = PASSWORD) =>
    rpc(wire, "connect-json", "login", { username, password }, admin);
  const sessionOf = async (username: string) => ((await login(username)).json!.session as JsonObject).id as string;
  const alive = async (session: string) =>
    (await rpc(wire, "connect-json", "readSession", { sessionId: session }, admin)).code;

  test.each(PROTOCOLS)(
    "%s: disable ends every session and refuses login; enable lets the user back",
    async (protocol) => {
      const u = await user();
      const sessions = [await sessionOf(u.username), await sessionOf(u.username)];
      await okCall(wire, protocol, "disableUser", { id: u.id }, admin);
      await okCall(wire, protocol, "disableUser", { id: u.id }, admin); // idempotent
      for (const session of sessions) expect(await alive(session)).toBe("not_found");

      const right = await rpc(wire, protocol, "login", { username: u.username, password: PASSWORD }, admin);
      expect({ message: right.message, ...errorOf(protocol, right) }).toEqual({
        message: "this account is disabled",
        ...expectedError(protocol, "permission_denied", "ACCOUNT_DISABLED"),
      });
      const wrong = await rpc(wire, protocol, "login", { email: u.email, password: "wrong-password" }, admin);
      expect([wrong.code, wrong.message]).toEqual(["unauthenticated", "invalid credentials"]);

      expect(((await okCall(wire, protocol, "read", { id: u.id }, admin)).user as JsonObject).disabled).toBe(true);
      const found = (await okCall(wire, protocol, "search", { username: u.username }, admin)).users as JsonObject[];
      expect(found.map((x) => x.disabled)).toEqual([true]);
      const listed = ((await okCall(wire, protocol, "list", { limit: 1000 }, admin)).users as JsonObject[]).find(
        (x) => x.id === u.id,
      );
      expect(listed?.disabled).toBe(true);

      await okCall(wire, protocol, "enableUser", { id: u.id }, admin);
      expect(((await okCall(wire, protocol, "read", { id: u.id }, admin)).user as JsonObject).disabled).toBeUndefined();
      for (const session of sessions) expect(await alive(session)).toBe("not_found"); // old sessions stay ended
      expect(await alive(await sessionOf(u.username))).toBe("ok");
    },
  );

  test("a disabled account gets no verification mail, and a link sent before stops working", async () => {
    const u = await user();
    const seen = catcher.to(u.email).length;
    await okCall(wire, "connect-json", "sendVerificationEmail", { email: u.email }, admin);
    const { token } = linkIn(await nextMail(catcher, u.email, seen));
    await okCall(wire, "connect-json", "disableUser", { id: u.id }, admin);
    const used = await rpc(wire, "connect-json", "verifyEmail", { token }, admin);
    expect([used.code, used.message]).toEqual(["invalid_argument", "invalid or expired"]);
    // The same answer as for any address, and nothing queued for it.
    // Two more (the per-address mail limit counts these as for any address).
    for (const protocol of ["grpc", "m3o"] as const) {
      await okCall(wire, protocol, "sendVerificationEmail", { email: u.email }, admin);
    }
    // The sender drops them as it drops an unknown address's mail: none is left queued and none arrives.
    const queued = async () =>
      Number(
        (
          await rawQuery(
            t.config.databaseUrl,
            `SELECT count(*) AS n FROM mail_outbox WHERE recipient = '${u.email}' AND status = 'queued'`,
          )
        )[0]!.n,
      );
    await until(async () => (await queued()) === 0);
    const sent = await rawQuery(
      t.config.databaseUrl,
      `SELECT count(*) AS n FROM mail_outbox WHERE recipient = '${u.email}' AND status = 'sent'`,
    );
    expect(Number(sent[0]!.n)).toBe(1); // only the mail sent before the disable
    expect(catcher.to(u.email)).toHaveLength(seen + 1);
    expect(((await okCall(wire, "grpc", "read", { id: u.id }, admin)).user as JsonObject).verified).toBeUndefined();
  });

  test.each(PROTOCOLS)(
    "%s: a reset code and a magic link sent before the disable do nothing after it",
    async (protocol) => {
      const u = await user();
      const seen = catcher.to(u.email).length;
      await okCall(wire, "connect-json", "sendPasswordResetEmail", { email: u.email }, admin);
      const code = codeIn(await nextMail(catcher, u.email, seen));
      await okCall(wire, "connect-json", "sendMagicLink", { email: u.email, address: APP, endpoint: "/in" }, admin);
      const { token } = magicLinkIn(await nextMail(catcher, u.email, seen + 1));
      await okCall(wire, "connect-json", "disableUser", { id: u.id }, admin);
      const fresh = "another-password-1";
      const reset = await rpc(
        wire,
        protocol,
        "resetPassword",
        { email: u.email, code, newPassword: fresh, confirmPassword: fresh },
        admin,
      );
      expect([reset.code, reset.message]).toEqual(["invalid_argument", "invalid or expired"]);
      const link = await rpc(wire, protocol, "verifyToken", { token }, admin);
      expect([link.code, link.json?.isValid ?? link.json?.is_valid, link.json?.session]).toEqual([
        "ok",
        undefined,
        undefined,
      ]);
      // Enabled again, the old password is still the one, and the spent-for-nothing code does not come back.
      await okCall(wire, "connect-json", "enableUser", { id: u.id }, admin);
      expect((await login(u.username)).code).toBe("ok");
      expect((await login(u.username, fresh)).code).toBe("unauthenticated");
    },
  );

  test.each(PROTOCOLS)("%s: a disabled account cannot change its password", async (protocol) => {
    const u = await user();
    await okCall(wire, "connect-json", "disableUser", { id: u.id }, admin);
    const change = (oldPassword: string) =>
      rpc(
        wire,
        protocol,
        "updatePassword",
        { userId: u.id, oldPassword, newPassword: "changed-pass-1", confirmPassword: "changed-pass-1" },
        admin,
      );
    expect((await change("wrong-pass-1")).code).toBe("unauthenticated");
    const refused = await change(PASSWORD);
    expect([refused.code, refused.message]).toEqual(["permission_denied", "this account is disabled"]);
    await okCall(wire, "connect-json", "enableUser", { id: u.id }, admin);
    expect((await login(u.username)).code).toBe("ok");
  });

  test("a login racing the disable never leaves a live session", async () => {
    for (let round = 0; round < 10; round++) {
      const u = await user();
      const [raced] = await Promise.all([
        login(u.username),
        okCall(wire, "connect-json", "disableUser", { id: u.id }, admin),
      ]);
      if (raced.code === "ok") expect(await alive((raced.json!.session as JsonObject).id as string)).toBe("not_found");
      else expect(["permission_denied", "unauthenticated"]).toContain(raced.code);
      expect((await login(u.username)).code).toBe("permission_denied");
    }
  });

  test.each(PROTOCOLS)("%s: bad ids, unknown users and public keys get their reasons", async (protocol) => {
    const u = await user();
    for (const method of ["disableUser", "enableUser"] as const) {
      for (const [id, code, reason] of [
        ["", "invalid_argument", "FIELD_REQUIRED"],
        ["a/b", "invalid_argument", "FIELD_MALFORMED"],
        ["no-such-user", "not_found", "USER_NOT_FOUND"],
      ] as const) {
        const answer = await rpc(wire, protocol, method, { id }, admin);
        expect({ method, id, ...errorOf(protocol, answer) }).toEqual({
          method,
          id,
          ...expectedError(protocol, code, reason),
        });
      }
      const { key } = await t.server.keys.create("default", "app", "public");
      const session = await sessionOf(u.username);
      const refused = await rpc(
        wire,
        protocol,
        method,
        { id: u.id },
        { authorization: `Bearer ${key}`, "x-session-id": session },
      );
      expect(errorOf(protocol, refused)).toEqual(expectedError(protocol, "permission_denied", "ROLE_FORBIDDEN"));
      expect(await alive(session)).toBe("ok");
    }
  });
});
