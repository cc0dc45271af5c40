// Two server processes on one PostgreSQL database, started at once: one
// signing key between them, a token from either verifies (in a third process)
// against the other's key set, and a rotation made with the command reaches
// both key sets without a restart.
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { runCli, startCliServer } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl, withEncryptionKeys } from "../support/databases.js";
import { storedKeys } from "./support/stored-keys.js";
import { verifyElsewhere } from "./support/verify.js";

const postgresOnly = ENGINES.includes("postgres") ? describe : describe.skip;
const ISSUER = "https://users.example.test";

postgresOnly("access tokens across two replicas on one PostgreSQL", () => {
  const adminKey = "token-replicas-admin-key-0123456789abcdef";
  let env: Record<string, string>;
  const replicas: Array<{ child: ChildProcess; url: string }> = [];

  beforeAll(async () => {
    env = withEncryptionKeys({
      DATABASE_URL: await freshDatabaseUrl("postgres"),
      BCRYPT_COST: "4",
      USERS_BOOTSTRAP_KEY: adminKey,
      PG_POOL_SIZE: "4",
      PUBLIC_URL: ISSUER,
      SIGNING_KEY_RELOAD_SECONDS: "1",
    });
    const started = await Promise.all([startCliServer(env), startCliServer(env)]);
    for (const s of started) replicas.push({ child: s.child, url: `http://127.0.0.1:${s.port}` });
  });

  afterAll(async () => {
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise((resolve) => {
            if (r.child.exitCode !== null) return resolve(undefined);
            r.child.once("exit", resolve);
            r.child.kill("SIGTERM");
          }),
      ),
    );
  });

  const call = async (replica: number, method: string, body: unknown) => {
    const res = await fetch(`${replicas[replica]!.url}/users/Users/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "micro-namespace": "shared" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const jwksOf = (replica: number) => `${replicas[replica]!.url}/.well-known/jwks.json`;
  const kids = async (replica: number) =>
    ((await (await fetch(jwksOf(replica))).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();

  test("one key for both; each replica's tokens verify against the other's key set; a rotation reaches both", async () => {
    expect((await storedKeys(env.DATABASE_URL!)).map((k) => k.generation)).toEqual([1]);
    expect(
      (await call(0, "Create", { username: "both", email: "both@example.com", password: "correct horse" })).status,
    ).toBe(200);
    const login = await call(1, "Login", { username: "both", password: "correct horse" });
    const sessionId = (login.body.session as { id: string }).id;
    const tokens = [];
    for (const replica of [0, 1]) {
      const answer = await call(replica, "CreateToken", { session_id: sessionId });
      expect(answer.status).toBe(200);
      tokens.push(answer.body.access_token as string);
    }
    for (const [replica, token] of [
      [1, tokens[0]!],
      [0, tokens[1]!],
    ] as const) {
      const [result] = await verifyElsewhere({ jwksUrl: jwksOf(replica), issuer: ISSUER, tokens: [token] });
      expect(result).toMatchObject({ ok: true, payload: { ns: "shared", username: "both" } });
    }

    const rotated = await runCli(["signing-keys", "rotate"], env);
    expect(rotated.code).toBe(0);
    const keys = (await storedKeys(env.DATABASE_URL!)).map((k) => k.kid).sort();
    expect(keys.length).toBe(2);
    // Each replica reloads every second; allow for a loaded machine.
    const deadline = Date.now() + 30_000;
    while ((await kids(0)).length < 2 || (await kids(1)).length < 2) {
      if (Date.now() > deadline) throw new Error("a replica did not publish the rotated key");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect([await kids(0), await kids(1)]).toEqual([keys, keys]);
    // Still signed with the old key on both, until the publish delay has passed.
    const [, fresh] = await verifyElsewhere({
      jwksUrl: jwksOf(0),
      issuer: ISSUER,
      tokens: [tokens[0]!, (await call(1, "CreateToken", { session_id: sessionId })).body.access_token as string],
    });
    expect(fresh).toMatchObject({ ok: true });
    if (fresh!.ok) expect(fresh!.header.kid).toBe((await storedKeys(env.DATABASE_URL!))[0]!.kid);
  }, 90_000);
});
