// UpdatePassword with a public key (a browser's): whether the user id exists
// must not show. An unknown id is answered exactly as a known id with a wrong
// old password (same status, code, message and reason), over the M3O paths
// and Connect; trusted keys are still told NotFound.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe.each(ENGINES)("UpdatePassword with a public key: no user enumeration (%s)", (engine) => {
  let t: TestServer;
  let publicKey: string;
  let serviceKey: string;
  let userId: string;
  beforeAll(async () => {
    t = await startTestServer({ engine });
    publicKey = (await t.server.keys.create("enum", "browser", "public")).key;
    serviceKey = (await t.server.keys.create("enum", "backend", "service")).key;
    const created = await fetch(`${t.url}/users/Users/Create`, {
      method: "POST",
      headers: { authorization: `Bearer ${serviceKey}` },
      body: JSON.stringify({ username: "known", email: "known@example.com", password: "correct horse" }),
    });
    userId = ((await created.json()) as { user: { id: string } }).user.id;
  });
  afterAll(() => t.close());

  const change = async (path: string, key: string, id: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${t.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify({
        user_id: id,
        old_password: "not the password",
        new_password: "a new password",
        confirm_password: "a new password",
      }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    return { status: res.status, body };
  };

  test("M3O path: the unknown id's answer is the known id's wrong-password answer", async () => {
    const known = await change("/users/Users/UpdatePassword", publicKey, userId);
    const unknown = await change("/users/Users/UpdatePassword", publicKey, "no-such-user-id");
    expect(known).toEqual({
      status: 401,
      body: {
        id: "users.UpdatePassword",
        code: 401,
        detail: "old_password: does not match the current password",
        status: "Unauthorized",
      },
    });
    expect(unknown).toEqual(known);
  });

  test("Connect JSON: same code, message and reason for both", async () => {
    const connect = { "content-type": "application/json" };
    const known = await change("/users.v1.Users/UpdatePassword", publicKey, userId, connect);
    const unknown = await change("/users.v1.Users/UpdatePassword", publicKey, "no-such-user-id", connect);
    expect(known.status).toBe(401);
    expect(known.body.code).toBe("unauthenticated");
    expect(JSON.stringify(known.body)).toContain("OLD_PASSWORD_WRONG");
    expect(unknown).toEqual(known);
  });

  test("a service key is still told the user does not exist", async () => {
    const unknown = await change("/users/Users/UpdatePassword", serviceKey, "no-such-user-id");
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toBe("user not found");
  });
});
