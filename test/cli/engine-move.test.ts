// Moving a populated SQLite database to PostgreSQL with the CLI: every login
// and every API key keeps working, nobody resets a password.
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { runCli, startCliServer } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl, tempDir } from "../support/databases.js";

const postgresOnly = ENGINES.includes("postgres") ? describe : describe.skip;

postgresOnly("SQLite to PostgreSQL with users export/import and keys export/import", () => {
  const dir = tempDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("migrate, move users and keys, then every user logs in on PostgreSQL with the old keys", async () => {
    const sqlite = { DATABASE_URL: `sqlite:${path.join(dir, "old.db")}`, BCRYPT_COST: "4" };
    const postgres = { DATABASE_URL: await freshDatabaseUrl("postgres"), BCRYPT_COST: "4" };

    // A populated SQLite service: users in two namespaces, created through the API.
    const acmeKey = /usk_[A-Za-z0-9_-]{43}/.exec(
      (await runCli(["keys", "create", "--namespace", "acme"], sqlite)).stdout,
    )![0];
    const adminKey = /usk_[A-Za-z0-9_-]{43}/.exec((await runCli(["keys", "create", "--admin"], sqlite)).stdout)![0];
    const old = await startCliServer(sqlite);
    const users: Array<{ ns: string; username: string; password: string }> = [];
    try {
      for (let i = 0; i < 20; i++) {
        const ns = i % 2 === 0 ? "acme" : "globex";
        const user = { ns, username: `mover${i}`, password: `pass-word-${i}-ok` };
        const res = await fetch(`http://127.0.0.1:${old.port}/users/Users/Create`, {
          method: "POST",
          headers: { authorization: `Bearer ${adminKey}`, "micro-namespace": ns },
          body: JSON.stringify({
            username: user.username,
            email: `${user.username}@example.com`,
            password: user.password,
          }),
        });
        expect(res.status).toBe(200);
        users.push(user);
      }
    } finally {
      old.child.kill("SIGTERM");
      await new Promise((resolve) => old.child.once("exit", resolve));
    }

    // The move, as a deploy pipeline would run it.
    expect((await runCli(["migrate"], postgres)).code).toBe(0);
    const usersFile = path.join(dir, "users.jsonl");
    const keysFile = path.join(dir, "keys.jsonl");
    expect((await runCli(["users", "export", usersFile], sqlite)).code).toBe(0);
    expect((await runCli(["keys", "export", keysFile], sqlite)).code).toBe(0);
    const imported = await runCli(["users", "import", usersFile], postgres);
    expect(imported.code).toBe(0);
    expect(imported.stderr).toContain("20 imported, 0 skipped");
    expect((await runCli(["keys", "import", keysFile], postgres)).stdout).toContain("Imported 2 API keys");
    expect(fs.readFileSync(keysFile, "utf8")).not.toContain(acmeKey);

    const moved = await startCliServer(postgres);
    try {
      for (const user of users) {
        const key = user.ns === "acme" ? acmeKey : adminKey;
        const res = await fetch(`http://127.0.0.1:${moved.port}/users/Users/Login`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "micro-namespace": user.ns },
          body: JSON.stringify({ username: user.username, password: user.password }),
        });
        expect(res.status).toBe(200);
      }
      // The namespace-scoped key is still scoped after the move.
      const denied = await fetch(`http://127.0.0.1:${moved.port}/users/Users/Search`, {
        method: "POST",
        headers: { authorization: `Bearer ${acmeKey}`, "micro-namespace": "globex" },
        body: "{}",
      });
      expect(denied.status).toBe(403);
    } finally {
      moved.child.kill("SIGTERM");
      await new Promise((resolve) => moved.child.once("exit", resolve));
    }
  });
});
