// The users-service command, run as a separate process.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, describe, expect, jest, test } from "@jest/globals";
import bcrypt from "bcrypt";
import { SETTINGS } from "../../src/config/settings.js";
import { runCli, startCliServer, startOnTerminal } from "../support/cli.js";
import { tempDir } from "../support/databases.js";

// Each test runs the command several times as separate processes (a node
// start each, over the whole service's modules): on a busy 2-core machine
// that passed 30 s.
jest.setTimeout(120_000);

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
    expect(listed.stdout).toMatch(new RegExp(`${id} +service +acme `));
    expect(listed.stdout).not.toContain(key);
    expect((await runCli(["keys", "revoke", id!], env)).code).toBe(0);
    expect((await runCli(["keys", "list"], env)).stdout).toMatch(new RegExp(`${id}.*revoked`));
    expect((await runCli(["keys", "revoke", id!], env)).code).toBe(1);
    const bad = await runCli(["keys", "create", "--namespace", "Bad Name!"], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("namespace: must be 1 to 63 of a-z 0-9 _ -");
    expect((await runCli(["keys", "create"], env)).code).toBe(2);
  });

  test("keys create --role public, --role service by default; keys list shows each key's role", async () => {
    const pub = await runCli(["keys", "create", "--namespace", "shop", "--role", "public"], env);
    expect(pub.code).toBe(0);
    expect(pub.stdout).toContain('a public key for namespace "shop"');
    const pubId = /id (key_[0-9a-f]+)/.exec(pub.stdout)![1]!;
    const svc = await runCli(["keys", "create", "--namespace", "shop"], env);
    expect(svc.stdout).toContain('a service key for namespace "shop"');
    const svcId = /id (key_[0-9a-f]+)/.exec(svc.stdout)![1]!;
    const admin = await runCli(["keys", "create", "--admin"], env);
    const adminId = /id (key_[0-9a-f]+)/.exec(admin.stdout)![1]!;
    const listed = (await runCli(["keys", "list"], env)).stdout;
    expect(listed).toMatch(new RegExp(`${pubId} +public +shop `));
    expect(listed).toMatch(new RegExp(`${svcId} +service +shop `));
    expect(listed).toMatch(new RegExp(`${adminId} +admin +\\(all\\) `));
    for (const args of [
      ["--namespace", "shop", "--role", "admin"],
      ["--namespace", "shop", "--role", "root"],
      ["--admin", "--role", "public"],
    ]) {
      const refused = await runCli(["keys", "create", ...args], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("keys create");
    }
  });

  test("keys list escapes control characters of labels; keys create refuses them", async () => {
    const evil = "\u001b]52;c;ZXZpbA==\u0007\u001b[2Jlabel";
    const refused = await runCli(["keys", "create", "--namespace", "acme", "--label", evil], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("label: must not contain control or format characters");
    // A label from elsewhere (an import) is shown escaped, never raw.
    const digest = Buffer.alloc(32, 7).toString("base64");
    const line = JSON.stringify({ id: "key_evil", key_sha256: digest, namespace: "acme", label: "ok", created_ms: 1 });
    const file = path.join(dir, "evil-key.jsonl");
    fs.writeFileSync(file, `${line}\n`);
    expect((await runCli(["keys", "import", file], env)).code).toBe(0);
    const db = new (await import("better-sqlite3")).default(path.join(dir, "users.db"));
    db.prepare("UPDATE api_keys SET label = ? WHERE id = 'key_evil'").run(evil);
    db.close();
    const listed = (await runCli(["keys", "list"], env)).stdout;
    expect(listed).not.toContain("\u001b");
    expect(listed).not.toContain("\u0007");
    expect(listed).toContain("\\x1b]52;c;ZXZpbA==\\x07\\x1b[2Jlabel");
  });

  test("keys import never makes an admin key of a line without a namespace; a role must say so", async () => {
    const digest = (n: number) => Buffer.alloc(32, n).toString("base64");
    const file = path.join(dir, "keys.jsonl");
    fs.writeFileSync(file, `${JSON.stringify({ id: "key_nons", key_sha256: digest(1), label: "x", created_ms: 1 })}\n`);
    const refused = await runCli(["keys", "import", file], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'line 1: role is required for a key without a namespace ("admin" to import an admin key)',
    );
    expect((await runCli(["keys", "list"], env)).stdout).not.toContain("key_nons");
    const lines = [
      { id: "key_imp_admin", key_sha256: digest(2), namespace: null, role: "admin", created_ms: 1 },
      { id: "key_imp_old", key_sha256: digest(3), namespace: "acme", created_ms: 1 },
      { id: "key_imp_pub", key_sha256: digest(4), namespace: "acme", role: "public", created_ms: 1 },
    ];
    fs.writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    expect((await runCli(["keys", "import", file], env)).code).toBe(0);
    const listed = (await runCli(["keys", "list"], env)).stdout;
    expect(listed).toMatch(/key_imp_admin +admin +\(all\)/);
    expect(listed).toMatch(/key_imp_old +service +acme/);
    expect(listed).toMatch(/key_imp_pub +public +acme/);
    fs.writeFileSync(
      file,
      `${JSON.stringify({ id: "key_x", key_sha256: digest(5), namespace: "acme", role: "admin", created_ms: 1 })}\n`,
    );
    const mismatch = await runCli(["keys", "import", file], env);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain("line 1: namespace: must be empty for an admin key");
  });

  test("exports never write through a link planted at their path", async () => {
    for (const command of [
      ["users", "export"],
      ["keys", "export"],
    ]) {
      const victim = path.join(dir, `victim-${command[0]}`);
      fs.writeFileSync(victim, "precious\n", { mode: 0o644 });
      const out = path.join(dir, `link-${command[0]}.jsonl`);
      fs.symlinkSync(victim, out);
      const result = await runCli([...command, out], env);
      expect(result.code).toBe(0);
      expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
      expect(fs.lstatSync(out).isSymbolicLink()).toBe(false);
      expect(fs.lstatSync(out).mode & 0o777).toBe(0o600);
      if (command[0] === "keys") expect(fs.readFileSync(out, "utf8")).toContain('"id":"key_');
      expect(fs.readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    }
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
      "disabled_ms",
      "email",
      "id",
      "namespace",
      "password_hash",
      "profile",
      "updated_ms",
      "username",
      "verified_ms",
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

    // stdout is a pipe here, as under a container's log collector: the key
    // goes to a file only its owner can read, and the log says only where.
    const first = await startCliServer(env);
    await untilPrinted(first.output, /an admin key was created and written to this file/);
    const keyFile = path.join(dir, "admin-key");
    expect(fs.lstatSync(keyFile).mode & 0o777).toBe(0o600);
    const key = fs.readFileSync(keyFile, "utf8").trim();
    expect(key).toMatch(/^usk_[A-Za-z0-9_-]{43}$/);
    expect(first.output()).toContain(JSON.stringify(keyFile));
    const search = () =>
      fetch(`http://127.0.0.1:${first.port}/users/Users/Search`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: "{}",
      });
    expect((await search()).status).toBe(200);
    await stop(first.child);
    expect(first.output()).not.toContain("usk_"); // neither stdout nor stderr
    expect(first.output()).not.toContain(key.slice(4));

    // Every key revoked (after a leak, say): the next start warns and makes none.
    const id = /(key_[0-9a-f]+)/.exec((await runCli(["keys", "list"], env)).stdout)![1]!;
    expect((await runCli(["keys", "revoke", id], env)).code).toBe(0);
    const second = await startCliServer(env);
    await untilPrinted(second.output, /every API key is revoked/);
    await stop(second.child);
    expect(second.output()).not.toContain("usk_");
    expect((await runCli(["keys", "list"], env)).stdout.match(/key_/g)).toHaveLength(1);
  });

  test("a link or file already at the key file's path is never written through: no key is made", async () => {
    const own = tempDir();
    try {
      const victim = path.join(own, "victim");
      fs.writeFileSync(victim, "precious\n", { mode: 0o644 });
      fs.symlinkSync(victim, path.join(own, "admin-key"));
      const ownEnv = { DATABASE_URL: `sqlite:${path.join(own, "users.db")}`, BCRYPT_COST: "4" };
      const server = await startCliServer(ownEnv);
      await untilPrinted(server.output, /the admin key file cannot be created/);
      await stop(server.child);
      expect(server.output()).toContain('"code":"EEXIST"');
      expect(server.output()).not.toContain("usk_");
      expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
      expect(fs.lstatSync(path.join(own, "admin-key")).isSymbolicLink()).toBe(true);
      expect((await runCli(["keys", "list"], ownEnv)).stdout).not.toContain("key_");
    } finally {
      fs.rmSync(own, { recursive: true, force: true });
    }
  });

  test("on a terminal the key is shown there once, and no file is written", async () => {
    const own = tempDir();
    try {
      const ownEnv = { DATABASE_URL: `sqlite:${path.join(own, "users.db")}`, BCRYPT_COST: "4" };
      const server = await startOnTerminal(ownEnv);
      const key = (
        await untilPrinted(server.output, /shown only this once; keep it secret:\s+(usk_[A-Za-z0-9_-]{43})/)
      )[1]!;
      await stop(server.child);
      expect(server.output().split(key).length - 1).toBe(2); // the key and the curl line
      expect(fs.existsSync(path.join(own, "admin-key"))).toBe(false);
    } finally {
      fs.rmSync(own, { recursive: true, force: true });
    }
  });
});
