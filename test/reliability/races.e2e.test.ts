// Races, on two replicas sharing one database (calls spread over both and
// over protocols): many concurrent Creates of the same email, username or id
// give exactly one success, the rest AlreadyExists naming the field; a
// password change racing with logins never lets the old password in after the
// change returned, and leaves no session made with the old password; a
// Delete racing with logins leaves no session of the deleted user.

import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { type Method, type RpcAnswer, rpc } from "./support/rpc.js";
import { type Protocol, Wire } from "./support/wire.js";

const CONTENDERS = 24;
const ROUNDS = 4;

describe.each(ENGINES)("races between replicas (%s)", (engine) => {
  let a: TestServer;
  let b: TestServer;
  const wires: Wire[] = [];
  let ns = 0;

  beforeAll(async () => {
    a = await startTestServer({ engine, env: { LOGIN_MAX_FAILURES: "1000" } });
    b = await startTestServer({ databaseUrl: a.config.databaseUrl, env: { LOGIN_MAX_FAILURES: "1000" } });
    wires.push(new Wire(a.url), new Wire(b.url));
  });
  afterAll(async () => {
    for (const w of wires) w.close();
    await b.close();
    await a.close();
  });

  const PROTOCOLS: Protocol[] = ["connect-json", "grpc", "m3o", "connect-binary", "grpc-web"];
  /** The i-th call goes to replica i % 2, over protocol i % 5, in namespace `namespace`. */
  function call(i: number, method: Method, request: JsonObject, namespace: string): Promise<RpcAnswer> {
    const server = i % 2 === 0 ? a : b;
    return rpc(wires[i % 2]!, PROTOCOLS[i % PROTOCOLS.length]!, method, request, {
      authorization: `Bearer ${server.adminKey}`,
      "micro-namespace": namespace,
    });
  }

  test.each([
    ["email", (i: number) => ({ username: `racer${i}`, email: "same@example.com", password: "password-1" })],
    ["username", (i: number) => ({ username: "same-name", email: `racer${i}@example.com`, password: "password-1" })],
    [
      "id",
      (i: number) => ({ id: "same-id", username: `racer${i}`, email: `racer${i}@example.com`, password: "password-1" }),
    ],
  ] as Array<[string, (i: number) => JsonObject]>)(
    `${CONTENDERS} concurrent Creates of the same %s: exactly one succeeds`,
    async (field, request) => {
      for (let round = 0; round < ROUNDS; round++) {
        const namespace = `race-create-${++ns}`;
        const answers = await Promise.all(
          Array.from({ length: CONTENDERS }, (_, i) => call(i, "create", request(i), namespace)),
        );
        const ok = answers.filter((x) => x.code === "ok");
        expect({ round, successes: ok.length }).toEqual({ round, successes: 1 });
        for (const lost of answers.filter((x) => x.code !== "ok")) {
          expect([lost.code, lost.message]).toEqual(["already_exists", `${field}: already taken in this namespace`]);
        }
        const all = await call(0, "search", { limit: "1000" }, namespace);
        expect((all.json!.users as unknown[] | undefined)?.length).toBe(1);
      }
    },
  );

  test(`${CONTENDERS} concurrent Creates with the same id, username and email: one succeeds, the rest name a clash`, async () => {
    const namespace = `race-create-${++ns}`;
    const same = { id: "twin", username: "twin", email: "twin@example.com", password: "password-1" };
    const answers = await Promise.all(Array.from({ length: CONTENDERS }, (_, i) => call(i, "create", same, namespace)));
    expect(answers.filter((x) => x.code === "ok")).toHaveLength(1);
    for (const lost of answers.filter((x) => x.code !== "ok")) {
      expect(lost.code).toBe("already_exists");
      expect(lost.message).toMatch(/^(id|username|email): already taken in this namespace$/);
    }
  });

  test("UpdatePassword racing with logins: after the change returned, the old password never signs in, and no session made with it survives", async () => {
    const figures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const namespace = `race-password-${++ns}`;
      const created = await call(
        0,
        "create",
        { username: "alice", email: "alice@example.com", password: "old-password-1" },
        namespace,
      );
      const userId = (created.json!.user as { id: string }).id;

      let changed = false;
      const oldSessions: string[] = [];
      const lateOldLogins: RpcAnswer[] = [];
      let loginsBefore = 0;
      // Workers sign in with the old password again and again, across the change.
      const worker = async (w: number) => {
        for (let n = 0; n < 12; n++) {
          const startedAfterChange = changed;
          const answer = await call(w + n, "login", { username: "alice", password: "old-password-1" }, namespace);
          if (answer.code === "ok") oldSessions.push((answer.json!.session as { id: string }).id);
          if (startedAfterChange) lateOldLogins.push(answer);
          else loginsBefore++;
        }
      };
      const workers = Array.from({ length: 6 }, (_, w) => worker(w));
      // The change starts once the first old-password logins are through.
      while (oldSessions.length < 3) await new Promise((resolve) => setImmediate(resolve));
      const change = await call(
        round,
        "updatePassword",
        { userId, oldPassword: "old-password-1", newPassword: "new-password-1", confirmPassword: "new-password-1" },
        namespace,
      );
      expect(change.code).toBe("ok");
      changed = true;
      await Promise.all(workers);

      expect(lateOldLogins.length).toBeGreaterThan(0);
      for (const late of lateOldLogins)
        expect([late.code, late.message]).toEqual(["unauthenticated", "invalid credentials"]);
      for (const [i, id] of oldSessions.entries()) {
        expect((await call(i, "readSession", { sessionId: id }, namespace)).code).toBe("not_found");
      }
      // The new password works on both replicas, and its session lives.
      for (const i of [0, 1]) {
        const fresh = await call(i, "login", { username: "alice", password: "new-password-1" }, namespace);
        expect(fresh.code).toBe("ok");
        expect(
          (await call(i + 1, "readSession", { sessionId: (fresh.json!.session as { id: string }).id }, namespace)).code,
        ).toBe("ok");
      }
      figures.push(
        `${oldSessions.length} old-password sessions (all revoked), ${lateOldLogins.length} old-password logins after the change (all refused), ${loginsBefore} before`,
      );
    }
    console.log(`password change vs logins (${engine}):\n  ${figures.join("\n  ")}`);
  });

  test("Delete racing with logins: no session of the deleted user survives", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const namespace = `race-delete-${++ns}`;
      const created = await call(
        0,
        "create",
        { username: "bob", email: "bob@example.com", password: "password-1" },
        namespace,
      );
      const userId = (created.json!.user as { id: string }).id;
      const sessions: string[] = [];
      const logins = Array.from({ length: CONTENDERS }, (_, i) =>
        call(i, "login", { username: "bob", password: "password-1" }, namespace).then((answer) => {
          if (answer.code === "ok") sessions.push((answer.json!.session as { id: string }).id);
          else expect([answer.code, answer.message]).toEqual(["unauthenticated", "invalid credentials"]);
        }),
      );
      const deleted = call(round + 1, "delete", { id: userId }, namespace);
      await Promise.all([...logins, deleted]);
      expect((await deleted).code).toBe("ok");
      for (const [i, id] of sessions.entries()) {
        expect((await call(i, "readSession", { sessionId: id }, namespace)).code).toBe("not_found");
      }
      expect((await call(0, "listSessions", { userId }, namespace)).code).toBe("not_found");
    }
  });
});
