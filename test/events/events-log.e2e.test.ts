// Every change is an event, written in the transaction of the change: over
// every protocol, on both engines, a user's calls leave exactly the events
// they should, in order, naming the key that made them, the session that
// proved them and the request id (each RPC that writes an event passes its
// call's actor on: one that lost it would leave an event naming no key or
// another call's request id); writes that change nothing leave none; and no
// password, session id, key or typed login name is ever in the table.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { bootstrapKeyId, expectNoSecrets, handleOf, ok, storedEvents } from "./support.js";

describe.each(ENGINES)("the event log (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({ engine });
    wire = new Wire(t.url);
    secrets.push(t.adminKey);
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  test.each(PROTOCOLS)("a user's calls over %s leave their events, in order, with actor and request id", async (p) => {
    const admin = (step: string) => ({ authorization: `Bearer ${t.adminKey}`, "x-request-id": `${p}-${step}` });
    const name = `ev-${p.replace(/[^a-z]/g, "")}`;
    const created = await ok(
      wire,
      p,
      "create",
      { username: name, email: `${name}@example.com`, password: "first-pass-1" },
      admin("create"),
    );
    const id = (created.json!.user as { id: string }).id;
    const login = async (step: string, password: string) =>
      ((await ok(wire, p, "login", { username: name, password }, admin(step))).json!.session as { id: string }).id;
    const s1 = await login("login1", "first-pass-1");
    expect((await rpc(wire, p, "login", { username: name, password: "wrong-pass-9" }, admin("bad"))).code).not.toBe(
      "ok",
    );
    await ok(wire, p, "update", { id, email: `${name}+2@example.com` }, admin("update"));
    const wrongOld = {
      userId: id,
      oldPassword: "wrong-pass-8",
      newPassword: "never-set-3",
      confirmPassword: "never-set-3",
    };
    expect((await rpc(wire, p, "updatePassword", wrongOld, admin("password-bad"))).code).not.toBe("ok");
    await ok(
      wire,
      p,
      "updatePassword",
      { userId: id, oldPassword: "first-pass-1", newPassword: "second-pass-2", confirmPassword: "second-pass-2" },
      admin("password"),
    );
    const s2 = await login("login2", "second-pass-2");
    const s3 = await login("login3", "second-pass-2");
    await ok(wire, p, "readSession", { sessionId: s3 }, admin("read"));
    await ok(wire, p, "logout", { sessionId: s2 }, admin("logout"));
    await ok(wire, p, "logout", { sessionId: s2 }, admin("logout-again"));
    await ok(wire, p, "revokeSessions", { userId: id }, admin("revoke"));
    const s4 = await login("login4", "second-pass-2");
    await ok(wire, p, "logoutAll", { userId: id }, admin("logout-all"));
    await ok(wire, p, "disableUser", { id }, admin("disable"));
    await ok(wire, p, "disableUser", { id }, admin("disable-again"));
    await ok(wire, p, "enableUser", { id }, admin("enable"));
    await ok(wire, p, "delete", { id }, admin("delete"));
    secrets.push(s1, s2, s3, s4, "first-pass-1", "second-pass-2", "wrong-pass-9", "wrong-pass-8", "never-set-3");

    const events = await storedEvents(t.config.databaseUrl, id);
    expect(events.map((e) => [e.type, e.request_id])).toEqual([
      ["user.created", `${p}-create`],
      ["session.created", `${p}-login1`],
      ["login.failed", `${p}-bad`],
      ["user.updated", `${p}-update`],
      ["login.failed", `${p}-password-bad`],
      ["user.password_changed", `${p}-password`],
      ["session.created", `${p}-login2`],
      ["session.created", `${p}-login3`],
      ["session.revoked", `${p}-logout`],
      ["session.revoked", `${p}-revoke`],
      ["session.created", `${p}-login4`],
      ["session.revoked", `${p}-logout-all`],
      ["user.disabled", `${p}-disable`],
      ["user.enabled", `${p}-enable`],
      ["user.deleted", `${p}-delete`],
    ]);
    for (const e of events) {
      expect(e).toMatchObject({
        namespace: "default",
        user_id: id,
        actor_key: bootstrapKeyId(t.adminKey),
        actor_session: "",
      });
    }
    expect(events[0]!.data).toEqual({ username: name, email: `${name}@example.com` });
    expect(events[1]!.data).toEqual({ session: handleOf(s1) });
    expect(events[2]!.data).toEqual({ via: "login" });
    expect(events[3]!.data).toEqual({ email: `${name}+2@example.com` });
    expect(events[4]!.data).toEqual({ via: "update_password" });
    expect(events[8]!.data).toEqual({ reason: "logout", sessions: [handleOf(s2)] });
    expect(events[9]!.data).toEqual({ reason: "revoked", sessions: ["*"] });
    expect(events[11]!.data).toEqual({ reason: "revoked", sessions: ["*"] });
    // Ids only grow.
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b));
  });

  test("a failed login of an unknown account is an event about no user, without the name typed", async () => {
    const typed = "nobody-by-this-name";
    const answer = await rpc(
      wire,
      "connect-json",
      "login",
      { username: typed, password: "whatever-1" },
      {
        authorization: `Bearer ${t.adminKey}`,
        "x-request-id": "unknown-login",
      },
    );
    expect(answer.code).toBe("unauthenticated");
    const [event] = (await storedEvents(t.config.databaseUrl)).filter((e) => e.request_id === "unknown-login");
    expect(event).toMatchObject({ type: "login.failed", user_id: "", data: { via: "login" } });
    secrets.push(typed, "whatever-1");
  });

  test("writes that change nothing write no event; a refused write rolls its event back with it", async () => {
    const admin = { authorization: `Bearer ${t.adminKey}`, "x-request-id": "no-change" };
    const a = await ok(
      wire,
      "connect-json",
      "create",
      { username: "nc-a", email: "nc-a@example.com", password: "password-1" },
      admin,
    );
    await ok(
      wire,
      "connect-json",
      "create",
      { username: "nc-b", email: "nc-b@example.com", password: "password-1" },
      admin,
    );
    const id = (a.json!.user as { id: string }).id;
    const before = (await storedEvents(t.config.databaseUrl)).length;
    // Taken username: the update fails inside its transaction, which held the event.
    expect((await rpc(wire, "connect-json", "update", { id, username: "nc-b" }, admin)).code).toBe("already_exists");
    expect(
      (await rpc(wire, "connect-json", "delete", { id: "00000000-0000-4000-8000-000000000000" }, admin)).code,
    ).toBe("not_found");
    await ok(wire, "connect-json", "logout", { sessionId: "A".repeat(43) }, admin);
    await ok(wire, "connect-json", "revokeSessions", { userId: id }, admin);
    expect((await storedEvents(t.config.databaseUrl)).slice(before)).toEqual([]);
  });

  test("a public key's call names the session that proved it, by handle", async () => {
    const key = await t.server.keys.create("default", "events test", "public");
    secrets.push(key.key);
    const admin = { authorization: `Bearer ${t.adminKey}` };
    const created = await ok(
      wire,
      "connect-json",
      "create",
      { username: "pub-ev", email: "pub-ev@example.com", password: "password-1" },
      admin,
    );
    const id = (created.json!.user as { id: string }).id;
    const session = (
      (await ok(wire, "grpc", "login", { username: "pub-ev", password: "password-1" }, admin)).json!.session as {
        id: string;
      }
    ).id;
    secrets.push(session);
    await ok(
      wire,
      "grpc",
      "update",
      { id, username: "pub-ev-2" },
      {
        authorization: `Bearer ${key.key}`,
        "x-session-id": session,
      },
    );
    const [updated] = (await storedEvents(t.config.databaseUrl, id)).filter((e) => e.type === "user.updated");
    expect(updated).toMatchObject({ actor_key: key.id, actor_session: handleOf(session) });
  });

  test("key events name the key and request id of CreateKey and RevokeKey (none from the command); never a secret in the table", async () => {
    const keysRpc = async (method: string, body: object, requestId: string) => {
      const res = await fetch(`${t.url}/users.v1.KeysService/${method}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${t.adminKey}`,
          "x-request-id": requestId,
        },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { key?: { id: string }; secret?: string };
    };
    const made = await keysRpc("CreateKey", { namespace: "tenant-y", role: "public", label: "label y" }, "key-create");
    secrets.push(made.secret!);
    await keysRpc("RevokeKey", { id: made.key!.id }, "key-revoke");
    // Outside a call (as the users-service command makes and revokes keys): no actor.
    const key = await t.server.keys.create("tenant-x", "label x");
    secrets.push(key.key);
    await t.server.keys.revoke(key.id);
    const keyEvents = (await storedEvents(t.config.databaseUrl)).filter(
      (e) => e.data.key_id === made.key!.id || e.data.key_id === key.id,
    );
    expect(keyEvents.map((e) => [e.type, e.namespace, e.data.role, e.actor_key, e.request_id])).toEqual([
      ["key.created", "tenant-y", "public", bootstrapKeyId(t.adminKey), "key-create"],
      ["key.revoked", "tenant-y", "public", bootstrapKeyId(t.adminKey), "key-revoke"],
      ["key.created", "tenant-x", "service", "", ""],
      ["key.revoked", "tenant-x", "service", "", ""],
    ]);
    const dump = JSON.stringify(await storedEvents(t.config.databaseUrl));
    expectNoSecrets(dump, secrets);
  });
});
