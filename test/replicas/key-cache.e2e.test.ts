// The API-key cache (API_KEY_CACHE_SECONDS, keyed by the key as sent) on two
// server processes sharing one database: a key revoked through one replica
// stops there at once, and on the other within the cache time, never later.
// Also on SQLite (two processes on one file, as with the CLI).
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startCliServer } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";

const CACHE_SECONDS = 2;

describe.each(ENGINES)("API-key cache on two replicas (%s)", (engine) => {
  const adminKey = "key-cache-test-admin-key-0123456789abcdef";
  const replicas: Array<{ child: ChildProcess; url: string }> = [];

  beforeAll(async () => {
    const env = {
      DATABASE_URL: await freshDatabaseUrl(engine),
      BCRYPT_COST: "4",
      USERS_BOOTSTRAP_KEY: adminKey,
      PG_POOL_SIZE: "4",
      API_KEY_CACHE_SECONDS: String(CACHE_SECONDS),
    };
    // One first (it migrates), then the second.
    for (let i = 0; i < 2; i++) {
      const s = await startCliServer(env);
      replicas.push({ child: s.child, url: `http://127.0.0.1:${s.port}` });
    }
  }, 60_000);

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

  const rpc = async (replica: number, path: string, body: unknown, key: string) => {
    const res = await fetch(`${replicas[replica]!.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const search = async (replica: number, key: string) => (await rpc(replica, "/users/Users/Search", {}, key)).status;

  const newKey = async () => {
    const created = await rpc(
      0,
      "/users.v1.KeysService/CreateKey",
      { role: "service", namespace: "cached", label: "cache test" },
      adminKey,
    );
    expect(created.status).toBe(200);
    return { id: (created.body.key as { id: string }).id, secret: created.body.secret as string };
  };

  test("revoked through one replica: refused there at once, on the other within API_KEY_CACHE_SECONDS", async () => {
    const key = await newKey();
    // Both replicas have looked the key up, so both hold it in their cache.
    for (let i = 0; i < 3; i++) {
      expect(await search(0, key.secret)).toBe(200);
      expect(await search(1, key.secret)).toBe(200);
    }
    const revoked = await rpc(0, "/users.v1.KeysService/RevokeKey", { id: key.id }, adminKey);
    expect(revoked.status).toBe(200);
    const revokedAt = Date.now();
    // The revoking replica drops its cache: refused on the very next call.
    expect(await search(0, key.secret)).toBe(401);
    // The other may still trust its cached lookup, but only until the cache time has passed.
    await new Promise((resolve) => setTimeout(resolve, revokedAt + CACHE_SECONDS * 1000 + 200 - Date.now()));
    expect(await search(1, key.secret)).toBe(401);
    expect(await search(0, key.secret)).toBe(401);
  }, 30_000);

  test("a key that was never valid is never cached: a key created on the other replica works at once", async () => {
    // A wrong key first, so a negative answer would be cached if anything were.
    expect(await search(1, "usk_not-a-key-at-all-000000000000000000000000")).toBe(401);
    const key = await newKey();
    expect(await search(1, key.secret)).toBe(200);
  });
});
