// Moving from M3O: records with M3O's password scheme (base64 of bcrypt cost
// 10 over "cruft123" + a 16-character salt + the password) go in through the
// real `users import` command, sign in with their old password on a real
// server, and are re-hashed into the service's own form on that first login.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import bcrypt from "bcrypt";
import { runCli, startCliServer } from "../support/cli.js";

/** What M3O's Users service stored for a password: the base64 hash and its salt. */
async function m3oRecord(password: string): Promise<{ salt: string; hash: string }> {
  const alphanum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const salt = [...randomBytes(16)].map((b) => alphanum[b % alphanum.length]).join("");
  const hash = Buffer.from(await bcrypt.hash(`cruft123${salt}${password}`, 10)).toString("base64");
  return { salt, hash };
}

describe("users import of M3O records", () => {
  let dir: string;
  let env: Record<string, string>;
  const adminKey = "m3o-import-admin-key-0123456789abcdefghij";

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "users-m3o-"));
    env = { DATABASE_URL: `sqlite:${path.join(dir, "users.db")}`, BCRYPT_COST: "4" };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("sign in with the old password, re-hashed on first login; a bad salt is refused by line", async () => {
    // 50 bytes: M3O's bcrypt read only the first 48 of them.
    const long = "a-long-password-of-fifty-bytes-exactly-0123456789x";
    expect(Buffer.byteLength(long)).toBe(50);
    const records = [await m3oRecord("old-password-1"), await m3oRecord(long)];
    const lines = [
      JSON.stringify({
        id: "m3o-1",
        username: "asim",
        email: "asim@example.com",
        scheme: "m3o",
        password_hash: records[0]!.hash,
        salt: records[0]!.salt,
      }),
      JSON.stringify({
        id: "m3o-2",
        username: "long",
        email: "long@example.com",
        scheme: "m3o",
        password_hash: records[1]!.hash,
        salt: records[1]!.salt,
      }),
      JSON.stringify({
        username: "nosalt",
        email: "nosalt@example.com",
        scheme: "m3o",
        password_hash: records[0]!.hash,
      }),
    ];
    const file = path.join(dir, "m3o.jsonl");
    fs.writeFileSync(file, `${lines.join("\n")}\n`);
    const imported = await runCli(["users", "import", file, "--namespace", "legacy"], env);
    expect(imported.stderr).toContain("line 3: salt: must be M3O's 16 letters and digits");
    expect(imported.stderr).toMatch(/2 imported, 0 skipped \(already present\), 1 invalid lines/);
    expect(imported.stderr).not.toContain(records[0]!.salt);

    const exportedHashes = async (): Promise<Record<string, string>> => {
      const exported = await runCli(["users", "export"], env);
      return Object.fromEntries(
        exported.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { id: string; password_hash: string })
          .map((u) => [u.id, u.password_hash]),
      );
    };
    let hashes: Record<string, string> = {};
    const server = await startCliServer({ ...env, USERS_BOOTSTRAP_KEY: adminKey });
    const login = async (username: string, password: string) =>
      fetch(`http://127.0.0.1:${server.port}/users/Users/Login`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "micro-namespace": "legacy" },
        body: JSON.stringify({ username, password }),
      });
    try {
      expect((await login("asim", "wrong-password")).status).toBe(401);
      const first = await login("asim", "old-password-1");
      expect(first.status).toBe(200);
      expect(((await first.json()) as { session: { user_id: string } }).session.user_id).toBe("m3o-1");
      // The long password signs in as it did on M3O; afterwards its whole text counts.
      expect((await login("long", long)).status).toBe(200);
      // The re-hash runs right after each login's answer: wait for both (bounded by the test timeout).
      for (;;) {
        hashes = await exportedHashes();
        if (hashes["m3o-1"]?.startsWith("$2b$04$") && hashes["m3o-2"]?.startsWith("$2b$04$")) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      server.child.kill("SIGTERM");
      await new Promise((resolve) => server.child.once("exit", resolve));
    }

    for (const id of ["m3o-1", "m3o-2"]) expect(hashes[id]).toMatch(/^\$2b\$04\$/);
    expect(await bcrypt.compare("old-password-1", hashes["m3o-1"]!)).toBe(true);
    expect(await bcrypt.compare(`${long.slice(0, 48)}zz`, hashes["m3o-2"]!)).toBe(false);
  });

  test("an M3O hash not yet re-hashed moves between databases as it is", async () => {
    const record = await m3oRecord("moving-password");
    const src = path.join(dir, "move.jsonl");
    fs.writeFileSync(
      src,
      `${JSON.stringify({ id: "mv", username: "mover", email: "mover@example.com", scheme: "m3o", password_hash: record.hash, salt: record.salt })}\n`,
    );
    const from = { ...env, DATABASE_URL: `sqlite:${path.join(dir, "from.db")}` };
    const to = { ...env, DATABASE_URL: `sqlite:${path.join(dir, "to.db")}` };
    expect((await runCli(["users", "import", src], from)).code).toBe(0);
    const out = path.join(dir, "moved.jsonl");
    expect((await runCli(["users", "export", out], from)).code).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toContain(`"password_hash":"$m3o$${record.salt}$`);
    expect((await runCli(["users", "import", out], to)).code).toBe(0);

    const server = await startCliServer({ ...to, USERS_BOOTSTRAP_KEY: adminKey });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/users/Users/Login`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ email: "mover@example.com", password: "moving-password" }),
      });
      expect(res.status).toBe(200);
    } finally {
      server.child.kill("SIGTERM");
      await new Promise((resolve) => server.child.once("exit", resolve));
    }
  });
});
