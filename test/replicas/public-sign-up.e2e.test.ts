// Public sign-up limits are counted in the database: two replicas on one
// PostgreSQL share them, even under concurrent calls through both.
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { runCli, startCliServer } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";

const postgresOnly = ENGINES.includes("postgres") ? describe : describe.skip;

postgresOnly("public sign-up limits shared by two replicas on one PostgreSQL", () => {
  const replicas: Array<{ child: ChildProcess; url: string }> = [];
  let publicKey: string;

  beforeAll(async () => {
    const env = {
      DATABASE_URL: await freshDatabaseUrl("postgres"),
      BCRYPT_COST: "4",
      USERS_BOOTSTRAP_KEY: "replica-signup-admin-key-0123456789abcdef",
      PG_POOL_SIZE: "4",
      PUBLIC_SIGNUPS_PER_KEY: "4",
      PUBLIC_SIGNUPS_PER_NAMESPACE: "6",
    };
    const created = await runCli(["keys", "create", "--namespace", "shop", "--role", "public"], env);
    publicKey = /usk_[A-Za-z0-9_-]{43}/.exec(created.stdout)![0];
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

  test("concurrent sign-ups through both replicas: exactly the limit succeed, the rest are 429 with retry-after", async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await fetch(`${replicas[i % 2]!.url}/users/Users/Create`, {
          method: "POST",
          headers: { authorization: `Bearer ${publicKey}` },
          body: JSON.stringify({ username: `buyer${i}`, email: `buyer${i}@example.com`, password: "correct horse" }),
        });
        await res.arrayBuffer();
        return { status: res.status, retryAfter: res.headers.get("retry-after") };
      }),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(4);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.map((a) => a.status)).toEqual(Array(8).fill(429));
    for (const a of refused) expect(Number(a.retryAfter)).toBeGreaterThan(0);
  });
});
