// The users-service command, run as a separate process.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import bcrypt from "bcrypt";
import { SETTINGS } from "../../src/config/settings.js";
import { runCli, startCliServer } from "../support/cli.js";
import { tempDir } from "../support/databases.js";

describe("users-service --help and --version", () => {
  test("--help lists every configuration variable with its default", async () => {
    const { code, stdout } = await runCli(["--help"]);
    expect(code).toBe(0);
    for (const s of SETTINGS) {
      expect(stdout).toContain(s.env);
      expect(stdout).toContain(`default: ${s.default === "" ? "(empty)" : s.default}`);
    }
    for (const command of [
      "serve",
      "migrate",
      "keys create",
      "keys list",
      "keys revoke",
      "users import",
      "users export",
    ]) {
      expect(stdout).toContain(command);
    }
  });

  test("--version prints the package version", async () => {
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8")) as { version: string };
    const { code, stdout } = await runCli(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(pkg.version);
  });
});

describe("configuration errors stop the start with the variable and its rule", () => {
  test.each([
    ["PORT", "abc", "PORT: must be a whole number from 0 to 65535"],
    ["PORT", "70000", "PORT: must be a whole number from 0 to 65535"],
    ["BCRYPT_COST", "3", "BCRYPT_COST: must be a whole number from 4 to 15"],
    ["BCRYPT_COST", "16", "BCRYPT_COST: must be a whole number from 4 to 15"],
    ["SESSION_TTL_SECONDS", "soon", "SESSION_TTL_SECONDS: must be a duration in seconds"],
    ["DATABASE_URL", "mysql://x", 'DATABASE_URL: must start with "sqlite:" or "postgres://"'],
    ["LOG_LEVEL", "loud", "LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent"],
    ["CORS_ORIGINS", "https://a.example/path", "CORS_ORIGINS:"],
    ["USERS_BOOTSTRAP_KEY", "short", "USERS_BOOTSTRAP_KEY: must be 32 to 256 characters"],
  ])("%s=%s", async (name, value, message) => {
    const { code, stderr } = await runCli(["serve"], { DATABASE_URL: "sqlite::memory:", [name]: value });
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });

  test("several bad values are all reported at once", async () => {
    const { code, stderr } = await runCli(["migrate"], { PORT: "x", BCRYPT_COST: "99" });
    expect(code).toBe(2);
    expect(stderr).toContain("PORT:");
    expect(stderr).toContain("BCRYPT_COST:");
  });
});

describe("keys and users commands", () => {
  const dir = tempDir();
  const env = { DATABASE_URL: `sqlite:${path.join(dir, "users.db")}`, BCRYPT_COST: "4" };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("keys create, list and revoke", async () => {
    const created = await runCli(["keys", "create", "--namespace", "acme", "--label", "backend"], env);
    expect(created.code).toBe(0);
    const key = /usk_[A-Za-z0-9_-]{43}/.exec(created.stdout)?.[0];
    const id = /id (key_[0-9a-f]+)/.exec(created.stdout)?.[1];
    expect(key).toBeDefined();
    const listed = await runCli(["keys", "list"], env);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain("namespace acme");
    expect(listed.stdout).not.toContain(key);
    expect((await runCli(["keys", "revoke", id!], env)).code).toBe(0);
    expect((await runCli(["keys", "list"], env)).stdout).toMatch(new RegExp(`${id}.*revoked`));
    expect((await runCli(["keys", "revoke", id!], env)).code).toBe(1);
    const bad = await runCli(["keys", "create", "--namespace", "Bad Name!"], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("namespace: must be 1 to 63 of a-z 0-9 _ -");
    expect((await runCli(["keys", "create"], env)).code).toBe(2);
  });

  test("users import takes thousands of users with foreign bcrypt hashes, and they log in", async () => {
    const hash = await bcrypt.hash("imported-password", 5);
    const variants = [hash, hash.replace("$2b$", "$2a$"), hash.replace("$2b$", "$2y$")];
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({
        id: `legacy-${i}`,
        username: `legacy${i}`,
        email: `Legacy${i}@Example.com`,
        password_hash: variants[i % 3],
        created: 1600000000 + i,
      }),
    );
    lines.push(
      "{not json",
      JSON.stringify({ username: "costly", email: "c@example.com", password_hash: `$2b$20$${hash.slice(7)}` }),
    );
    const file = path.join(dir, "import.jsonl");
    fs.writeFileSync(file, `${lines.join("\n")}\n`);

    const imported = await runCli(["users", "import", file, "--namespace", "legacy"], env);
    expect(imported.code).toBe(1); // two invalid lines
    expect(imported.stderr).toContain("line 3001: not valid JSON");
    expect(imported.stderr).toContain("line 3002: password_hash: bcrypt cost must be from 4 to 14, got 20");
    expect(imported.stderr).toMatch(
      /users import: 3000 imported, 0 skipped \(already present\), 2 invalid lines in [\d.]+ s/,
    );
    expect(imported.stderr).not.toContain(hash.slice(10)); // no hash echoed

    const again = await runCli(["users", "import", file, "--namespace", "legacy"], env);
    expect(again.stderr).toContain("0 imported, 3000 skipped");

    const adminKey = "cli-test-admin-key-0123456789abcdefghij";
    const server = await startCliServer({ ...env, USERS_BOOTSTRAP_KEY: adminKey });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      for (const i of [0, 1, 2, 1500, 2999]) {
        const res = await fetch(`${url}/users/Users/Login`, {
          method: "POST",
          headers: { authorization: `Bearer ${adminKey}`, "micro-namespace": "legacy" },
          body: JSON.stringify({ email: `legacy${i}@example.com`, password: "imported-password" }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { session: { user_id: string } };
        expect(body.session.user_id).toBe(`legacy-${i}`);
      }
      const read = await fetch(`${url}/users/Users/Read`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "micro-namespace": "legacy" },
        body: JSON.stringify({ id: "legacy-7" }),
      });
      expect(((await read.json()) as { user: { created: number } }).user.created).toBe(1600000007);
    } finally {
      server.child.kill("SIGTERM");
      await new Promise((resolve) => server.child.once("exit", resolve));
    }
  });

  test("users export then import into another database keeps every hash", async () => {
    const out = path.join(dir, "export.jsonl");
    // An existing file that others can read is narrowed before the hashes go in.
    fs.writeFileSync(out, "old\n", { mode: 0o644 });
    const exported = await runCli(["users", "export", out], env);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/users export: 3000 users exported/);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const first = JSON.parse(fs.readFileSync(out, "utf8").split("\n")[0]!) as Record<string, unknown>;
    expect(Object.keys(first).sort()).toEqual([
      "created_ms",
      "email",
      "id",
      "namespace",
      "password_hash",
      "updated_ms",
      "username",
    ]);

    const other = { ...env, DATABASE_URL: `sqlite:${path.join(dir, "other.db")}` };
    const imported = await runCli(["users", "import", out], other);
    expect(imported.code).toBe(0);
    const back = await runCli(["users", "export"], other);
    const sortLines = (text: string) => text.trim().split("\n").sort();
    expect(sortLines(back.stdout)).toEqual(sortLines(fs.readFileSync(out, "utf8").replaceAll("$2y$", "$2b$")));
  });
});

describe("the admin key of the first start", () => {
  const dir = tempDir();
  const env = { DATABASE_URL: `sqlite:${path.join(dir, "users.db")}`, BCRYPT_COST: "4" };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Waits until the server's output matches (the test's timeout bounds the wait). */
  async function untilPrinted(output: () => string, pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(output());
      if (match) return match;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const stop = (child: import("node:child_process").ChildProcess) =>
    new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });

  test("is made only once the port is ours, shown once, and never again once keys exist", async () => {
    // A start that cannot listen leaves no key behind that nobody was shown.
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const busyPort = String((taken.address() as net.AddressInfo).port);
    const failed = await runCli(["serve"], { ...env, HOST: "127.0.0.1", PORT: busyPort });
    taken.close();
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(
      `users-service: cannot listen on 127.0.0.1:${busyPort} (HOST, PORT): listen EADDRINUSE`,
    );
    expect((await runCli(["keys", "list"], env)).stdout).not.toContain("key_");

    const first = await startCliServer(env);
    const key = (
      await untilPrinted(first.output, /shown only this once; keep it secret:\s+(usk_[A-Za-z0-9_-]{43})/)
    )[1]!;
    const search = () =>
      fetch(`http://127.0.0.1:${first.port}/users/Users/Search`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: "{}",
      });
    expect((await search()).status).toBe(200);
    await stop(first.child);
    expect(first.output().match(/usk_/g)).toHaveLength(2); // the key and the curl line, nowhere else

    // Every key revoked (after a leak, say): the next start warns and makes none.
    const id = /(key_[0-9a-f]+)/.exec((await runCli(["keys", "list"], env)).stdout)![1]!;
    expect((await runCli(["keys", "revoke", id], env)).code).toBe(0);
    const second = await startCliServer(env);
    await untilPrinted(second.output, /every API key is revoked/);
    await stop(second.child);
    expect(second.output()).not.toContain("usk_");
    expect((await runCli(["keys", "list"], env)).stdout.match(/key_/g)).toHaveLength(1);
  });
});
