// Two server processes on one PostgreSQL database, as replicas behind a load
// balancer: everything shared lives in the database, nothing in a process.

import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { bcryptRuns } from "../reliability/support/probes.js";
import { runCli, startCliServer } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";

const postgresOnly = ENGINES.includes("postgres") ? describe : describe.skip;

postgresOnly("two replicas on one PostgreSQL", () => {
  const adminKey = "replica-test-admin-key-0123456789abcdef";
  let env: Record<string, string>;
  const replicas: Array<{ child: ChildProcess; url: string }> = [];

  beforeAll(async () => {
    env = {
      DATABASE_URL: await freshDatabaseUrl("postgres"),
      BCRYPT_COST: "4",
      USERS_BOOTSTRAP_KEY: adminKey,
      PG_POOL_SIZE: "4",
      API_KEY_CACHE_SECONDS: "0",
    };
    // Both start at once on an empty database: migrations must apply exactly once.
    const started = await Promise.all([startCliServer(env), startCliServer(env)]);
    for (const s of started) replicas.push({ child: s.child, url: `http://127.0.0.1:${s.port}` });
  });

  afterAll(async () => {
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise((resolve) => {
            r.child.once("exit", resolve);
            r.child.kill("SIGTERM");
          }),
      ),
    );
  });

  const call = async (replica: number, method: string, body: unknown, key = adminKey) => {
    const res = await fetch(`${replicas[replica]!.url}/users/Users/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "micro-namespace": "shared" },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as { session: { id: string; username: string }; detail?: string },
    };
  };

  test("a session made through one replica is read and revoked through the other", async () => {
    expect(
      (await call(0, "Create", { username: "roamer", email: "roamer@example.com", password: "correct horse" })).status,
    ).toBe(200);
    const login = await call(1, "Login", { username: "roamer", password: "correct horse" });
    expect(login.status).toBe(200);
    const sessionId = login.body.session.id as string;
    const read = await call(0, "ReadSession", { session_id: sessionId });
    expect(read.status).toBe(200);
    expect(read.body.session.username).toBe("roamer");
    expect((await call(0, "Logout", { session_id: sessionId })).status).toBe(200);
    expect((await call(1, "ReadSession", { session_id: sessionId })).status).toBe(404);
  });

  test("the same email created concurrently through both: exactly one success and one AlreadyExists", async () => {
    for (let round = 0; round < 5; round++) {
      const email = `race${round}@example.com`;
      const results = await Promise.all([
        call(0, "Create", { username: `racer-a${round}`, email, password: "correct horse" }),
        call(1, "Create", { username: `racer-b${round}`, email, password: "correct horse" }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(results.find((r) => r.status === 409)!.body.detail).toBe("email: already taken in this namespace");
    }
  });

  test("login throttling is shared: failures through one replica lock the account on the other", async () => {
    await call(0, "Create", { username: "guarded", email: "guarded@example.com", password: "correct horse" });
    for (let i = 0; i < 5; i++) {
      expect((await call(i % 2, "Login", { username: "guarded", password: `wrong guess ${i}` })).status).toBe(401);
    }
    const locked = await call(1, "Login", { username: "guarded", password: "correct horse" });
    expect(locked.status).toBe(429);
    expect(locked.body.detail).toMatch(/too many failed attempts/);
  });

  test("a burst through both replicas: correct logins all succeed; guesses share one bound of LOGIN_MAX_FAILURES checks", async () => {
    await call(0, "Create", { username: "crowded", email: "crowded@example.com", password: "correct horse" });
    const right = await Promise.all(
      Array.from({ length: 16 }, (_, i) => call(i % 2, "Login", { username: "crowded", password: "correct horse" })),
    );
    expect(right.map((r) => r.status)).toEqual(Array<number>(16).fill(200));
    const verifies = async () =>
      (await bcryptRuns(replicas[0]!.url)).verify + (await bcryptRuns(replicas[1]!.url)).verify;
    const before = await verifies();
    const wrong = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        call(
          i % 2,
          "Login",
          i % 4 < 2 ? { username: "crowded", password: "guess" } : { email: "crowded@example.com", password: "guess" },
        ),
      ),
    );
    expect((await verifies()) - before).toBe(5);
    expect(wrong.filter((r) => r.status === 401)).toHaveLength(5);
    expect(wrong.filter((r) => r.status === 429)).toHaveLength(11);
    expect((await call(1, "Login", { username: "crowded", password: "correct horse" })).status).toBe(429);
  });

  test("an API key created with the CLI works at once on both replicas, and stops on both when revoked", async () => {
    const created = await runCli(["keys", "create", "--namespace", "shared"], env);
    const key = /usk_[A-Za-z0-9_-]{43}/.exec(created.stdout)![0];
    const id = /id (key_[0-9a-f]+)/.exec(created.stdout)![1]!;
    expect((await call(0, "Search", {}, key)).status).toBe(200);
    expect((await call(1, "Search", {}, key)).status).toBe(200);
    expect((await runCli(["keys", "revoke", id], env)).code).toBe(0);
    // API_KEY_CACHE_SECONDS=0 here: revocation applies on the next call everywhere.
    expect((await call(0, "Search", {}, key)).status).toBe(401);
    expect((await call(1, "Search", {}, key)).status).toBe(401);
  });
});
