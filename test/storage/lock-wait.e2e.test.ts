// A write waiting for another process's lock (the CLI importing, a second
// server on the same SQLite file) must not stall the calls that can proceed:
// reads keep being answered while the write waits, and the write completes
// once the lock is released.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { holdWriteLock } from "../support/faults.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe.each(ENGINES)("a write waiting for a lock (%s)", (engine) => {
  let t: TestServer;
  const post = (method: string, body: unknown) =>
    fetch(`${t.url}/users/Users/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}` },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    t = await startTestServer({ engine, env: { SQLITE_BUSY_TIMEOUT_MS: "30000", PG_STATEMENT_TIMEOUT_MS: "30000" } });
    expect(
      (
        await post("Create", {
          id: "reader",
          username: "reader",
          email: "reader@example.com",
          password: "correct horse",
        })
      ).status,
    ).toBe(200);
  });
  afterAll(() => t.close());

  test("reads are answered while a Create waits, and the Create succeeds after the lock is released", async () => {
    const lock = await holdWriteLock(t.config.databaseUrl);
    let createDone = false;
    const create = post("Create", { username: "waiter", email: "waiter@example.com", password: "correct horse" }).then(
      (res) => {
        createDone = true;
        return res;
      },
    );
    try {
      for (let i = 0; i < 20; i++) {
        const read = await post("Read", { id: "reader" });
        expect(read.status).toBe(200);
      }
      // Twenty reads went through while the write was still waiting for the lock.
      expect(createDone).toBe(false);
    } finally {
      await lock.release();
    }
    expect((await create).status).toBe(200);
  });
});
