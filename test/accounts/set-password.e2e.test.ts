// SetPassword (an administrator's reset) on both engines over every
// protocol: the new password works and the old one not, every session ends
// (also one a login racing the reset made), a locked-out account can sign in
// at once, only a bcrypt hash is stored, and bad input gets its reason.
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { errorOf, expectedError, okCall } from "./support.js";

const OLD = "old-password-1";
const NEW = "new-password-2";

describe.each(ENGINES)("SetPassword (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  let n = 0;

  beforeAll(async () => {
    t = await startTestServer({ engine, env: { LOGIN_MAX_FAILURES: "3" } });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  async function user() {
    const username = `reset${++n}`;
    const request = { username, email: `${username}@example.com`, password: OLD };
    const id = ((await okCall(wire, "connect-json", "create", request, admin)).user as JsonObject).id as string;
    return { id, username, email: `${username}@example.com` };
  }
  const login = (username: string, password: string) =>
    rpc(wire, "connect-json", "login", { username, password }, admin);
  const alive = async (session: string) =>
    (await rpc(wire, "connect-json", "readSession", { sessionId: session }, admin)).code;

  test.each(PROTOCOLS)("%s: the new password works, the old one not, and every session ends", async (protocol) => {
    const u = await user();
    const sessions = [];
    for (let i = 0; i < 2; i++)
      sessions.push(((await login(u.username, OLD)).json!.session as JsonObject).id as string);
    await okCall(wire, protocol, "setPassword", { userId: u.id, newPassword: NEW }, admin);
    for (const session of sessions) expect(await alive(session)).toBe("not_found");
    const old = await login(u.username, OLD);
    expect([old.code, old.message]).toEqual(["unauthenticated", "invalid credentials"]);
    expect((await login(u.username, NEW)).code).toBe("ok");
    const [row] = await rawQuery(t.config.databaseUrl, `SELECT hash FROM passwords WHERE user_id = '${u.id}'`);
    expect(String(row!.hash)).toMatch(/^\$2[aby]\$04\$/);
    expect(t.logs.join("\n")).not.toContain(NEW);
  });

  test("a user locked out by failed logins signs in with the new password at once, by username and email", async () => {
    const u = await user();
    for (let i = 0; i < 3; i++) expect((await login(u.username, "wrong-password")).code).toBe("unauthenticated");
    const locked = await login(u.username, OLD);
    expect([locked.code, errorOf("connect-json", locked).reason]).toEqual(["resource_exhausted", "LOGIN_THROTTLED"]);
    await okCall(wire, "grpc", "setPassword", { userId: u.id, newPassword: NEW }, admin);
    expect((await login(u.username, NEW)).code).toBe("ok");
    const byEmail = await rpc(wire, "connect-json", "login", { email: u.email, password: NEW }, admin);
    expect(byEmail.code).toBe("ok");
  });

  test("a login racing SetPassword never leaves a live session made with the old password", async () => {
    for (let round = 0; round < 8; round++) {
      const u = await user();
      const [raced] = await Promise.all([
        login(u.username, OLD),
        okCall(wire, "connect-json", "setPassword", { userId: u.id, newPassword: NEW }, admin),
      ]);
      if (raced.code === "ok") expect(await alive((raced.json!.session as JsonObject).id as string)).toBe("not_found");
      else expect(raced.code).toBe("unauthenticated");
    }
  });

  test.each(PROTOCOLS)("%s: bad input, unknown users and public keys get their reasons", async (protocol) => {
    const u = await user();
    for (const [request, code, reason] of [
      [{ userId: u.id, newPassword: "short" }, "invalid_argument", "FIELD_TOO_SHORT"],
      [{ userId: u.id, newPassword: "" }, "invalid_argument", "FIELD_REQUIRED"],
      [{ userId: u.id, newPassword: "x".repeat(73) }, "invalid_argument", "FIELD_TOO_LONG"],
      [{ userId: "", newPassword: NEW }, "invalid_argument", "FIELD_REQUIRED"],
      [{ userId: "no-such-user", newPassword: NEW }, "not_found", "USER_NOT_FOUND"],
    ] as Array<[JsonObject, string, string]>) {
      const answer = await rpc(wire, protocol, "setPassword", request, admin);
      expect({ request, ...errorOf(protocol, answer) }).toEqual({ request, ...expectedError(protocol, code, reason) });
    }
    const { key } = await t.server.keys.create("default", "app", "public");
    const refused = await rpc(
      wire,
      protocol,
      "setPassword",
      { userId: u.id, newPassword: NEW },
      { authorization: `Bearer ${key}` },
    );
    expect(errorOf(protocol, refused)).toEqual(expectedError(protocol, "permission_denied", "ROLE_FORBIDDEN"));
    expect((await login(u.username, OLD)).code).toBe("ok"); // nothing changed
  });
});
