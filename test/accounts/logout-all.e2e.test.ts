// LogoutAll on both engines over every protocol: every session of the user
// ends (ReadSession then fails for each), other users' sessions stay, a
// public key may sign out only the user of its own session, and bad input
// gets its reason.
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { errorOf, expectedError, okCall } from "./support.js";

describe.each(ENGINES)("LogoutAll (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  let publicKey: string;
  let n = 0;

  beforeAll(async () => {
    t = await startTestServer({ engine });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
    publicKey = (await t.server.keys.create("default", "app", "public")).key;
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  async function userWithSessions(count: number) {
    const username = `leaver${++n}`;
    const request = { username, email: `${username}@example.com`, password: "password-123" };
    const id = ((await okCall(wire, "connect-json", "create", request, admin)).user as JsonObject).id as string;
    const sessions: string[] = [];
    for (let i = 0; i < count; i++) {
      const login = await okCall(wire, "connect-json", "login", { username, password: "password-123" }, admin);
      sessions.push((login.session as JsonObject).id as string);
    }
    return { id, username, sessions };
  }
  const alive = async (session: string) =>
    (await rpc(wire, "connect-json", "readSession", { sessionId: session }, admin)).code;

  test.each(PROTOCOLS)("%s: every session of the user ends; other users' stay", async (protocol) => {
    const user = await userWithSessions(3);
    const bystander = await userWithSessions(1);
    const answer = await okCall(wire, protocol, "logoutAll", { userId: user.id }, admin);
    expect(answer.revoked).toBe("3");
    for (const session of user.sessions) expect(await alive(session)).toBe("not_found");
    expect(await alive(bystander.sessions[0]!)).toBe("ok");
    // Signing in again works, and a second LogoutAll ends nothing more than that.
    await okCall(wire, protocol, "login", { username: user.username, password: "password-123" }, admin);
    expect((await okCall(wire, protocol, "logoutAll", { userId: user.id }, admin)).revoked).toBe("1");
  });

  test.each(PROTOCOLS)("%s: a public key signs out its own user only", async (protocol) => {
    const me = await userWithSessions(2);
    const other = await userWithSessions(1);
    const mine = { authorization: `Bearer ${publicKey}`, "x-session-id": me.sessions[0]! };
    const refused = await rpc(wire, protocol, "logoutAll", { userId: other.id }, mine);
    expect(errorOf(protocol, refused)).toEqual(expectedError(protocol, "permission_denied", "SESSION_PROOF_REQUIRED"));
    expect(await alive(other.sessions[0]!)).toBe("ok");
    expect((await okCall(wire, protocol, "logoutAll", { userId: me.id }, mine)).revoked).toBe("2");
    for (const session of me.sessions) expect(await alive(session)).toBe("not_found");
    // Its proof ended with the rest: a second call is refused.
    const again = await rpc(wire, protocol, "logoutAll", { userId: me.id }, mine);
    expect(errorOf(protocol, again)).toEqual(expectedError(protocol, "permission_denied", "SESSION_PROOF_REQUIRED"));
  });

  test.each(PROTOCOLS)("%s: an empty, malformed or unknown user_id gets its reason", async (protocol) => {
    for (const [userId, code, reason] of [
      ["", "invalid_argument", "FIELD_REQUIRED"],
      ["a/b", "invalid_argument", "FIELD_MALFORMED"],
      ["no-such-user", "not_found", "USER_NOT_FOUND"],
    ] as const) {
      const answer = await rpc(wire, protocol, "logoutAll", { userId }, admin);
      expect({ userId, ...errorOf(protocol, answer) }).toEqual({ userId, ...expectedError(protocol, code, reason) });
    }
  });
});
