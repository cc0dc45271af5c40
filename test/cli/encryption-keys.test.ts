// ENCRYPTION_KEY_FILE on a real process: made beside a SQLite database on
// first start (0600) and kept; required with PostgreSQL; `encryption-keys new`
// makes and rotates the file; a file others can read, or a bad line, stops the
// start naming the file and never the key.
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { loadConfig } from "../../src/config/config.js";
import { readEncryptionKeys } from "../../src/files/encryption-key-file.js";
import { runCli, startCliServer } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl, tempDir } from "../support/databases.js";

const children: Array<{ kill(signal: string): void }> = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

async function startAndStop(env: Record<string, string>): Promise<string> {
  const server = await startCliServer(env);
  children.push(server.child as never);
  server.child.kill("SIGTERM");
  await new Promise((resolve) => server.child.once("exit", resolve));
  return server.output();
}

describe("ENCRYPTION_KEY_FILE", () => {
  test("SQLite without the setting: the first start makes encryption-keys beside the database (0600) and says so; the next keeps it", async () => {
    const dir = tempDir();
    const env = { DATABASE_URL: `sqlite:${path.join(dir, "users.db")}`, USERS_BOOTSTRAP_KEY: "k".repeat(40) };
    const first = await startAndStop(env);
    const file = path.join(dir, "encryption-keys");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(first).toContain("encryption keys created");
    const key = readEncryptionKeys(file, { create: false }).keys[0]!.toString("base64");
    expect(first).not.toContain(key);
    const second = await startAndStop(env);
    expect(second).not.toContain("encryption keys created");
    expect(readEncryptionKeys(file, { create: false }).keys[0]!.toString("base64")).toBe(key);
  }, 60_000);

  test.each(ENGINES.filter((e) => e === "postgres"))(
    "%s without the setting: the start refuses, naming ENCRYPTION_KEY_FILE and how to make one",
    async (engine) => {
      const url = await freshDatabaseUrl(engine);
      // ENCRYPTION_KEY_FILE="" is what an operator who never set it has (the test harness adds one otherwise).
      const { code, stderr } = await runCli(["serve"], { DATABASE_URL: url, ENCRYPTION_KEY_FILE: "", PORT: "0" });
      expect(code).toBe(2);
      expect(stderr).toContain("ENCRYPTION_KEY_FILE is required with PostgreSQL");
      expect(stderr).toContain("users-service encryption-keys new");
    },
    30_000,
  );

  test("`encryption-keys new FILE` makes a 0600 file with one key, then adds a new sealing key at its top", async () => {
    const file = path.join(tempDir(), "keys");
    const made = await runCli(["encryption-keys", "new", file]);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain(`ENCRYPTION_KEY_FILE=${file}`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const [first] = readEncryptionKeys(file, { create: false }).keys;
    const rotated = await runCli(["encryption-keys", "new", file]);
    expect(rotated.code).toBe(0);
    const keys = readEncryptionKeys(file, { create: false }).keys;
    expect(keys).toHaveLength(2);
    expect(keys[1]).toEqual(first);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    for (const k of keys) {
      expect(made.stdout + rotated.stdout).not.toContain(k.toString("base64"));
    }
    expect((await runCli(["encryption-keys"])).code).toBe(2);
    expect((await runCli(["encryption-keys", "new"])).stderr).toContain(
      "usage: users-service encryption-keys new FILE",
    );
  });

  test("a configured file that is missing, readable by others, or holds a bad line stops the start naming the file, never a key", async () => {
    const dir = tempDir();
    const base = { DATABASE_URL: `sqlite:${path.join(dir, "users.db")}`, PORT: "0" };
    const missing = path.join(dir, "absent");
    const r1 = await runCli(["serve"], { ...base, ENCRYPTION_KEY_FILE: missing });
    expect([r1.code, r1.stderr]).toEqual([2, expect.stringContaining(`${missing}: does not exist`)]);
    expect(fs.existsSync(missing)).toBe(false);

    const open = path.join(dir, "open");
    fs.writeFileSync(open, `${Buffer.alloc(32, 7).toString("base64")}\n`, { mode: 0o644 });
    fs.chmodSync(open, 0o644);
    const r2 = await runCli(["serve"], { ...base, ENCRYPTION_KEY_FILE: open });
    expect([r2.code, r2.stderr]).toEqual([2, expect.stringContaining("chmod 600")]);
    expect(r2.stderr).not.toContain(Buffer.alloc(32, 7).toString("base64"));

    const bad = path.join(dir, "bad");
    fs.writeFileSync(bad, "# keys\nnot-a-key-but-maybe-a-secret\n", { mode: 0o600 });
    const r3 = await runCli(["serve"], { ...base, ENCRYPTION_KEY_FILE: bad });
    expect([r3.code, r3.stderr]).toEqual([2, expect.stringContaining(`${bad} line 2: must be base64 of 32 bytes`)]);
    expect(r3.stderr).not.toContain("not-a-key-but-maybe-a-secret");
  });

  test("the setting is a path: documented and parsed like the other file settings", () => {
    expect(loadConfig({ ENCRYPTION_KEY_FILE: "/etc/users/keys" }).encryptionKeyFile).toBe("/etc/users/keys");
    expect(() => loadConfig({ ENCRYPTION_KEY_FILE: "a\0b" })).toThrow(/ENCRYPTION_KEY_FILE/);
  });
});
