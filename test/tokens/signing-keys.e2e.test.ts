// The signing keys of access tokens as stored: made once on first start (once
// even when two servers start at once on one database), the private half only
// ever sealed under ENCRYPTION_KEY_FILE, and a key the file cannot open stops
// the start with a message naming the setting, before anything is served.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "@jest/globals";
import { encryptionKeyFile } from "../../src/files/encryption-key-file.js";
import { runCli } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl, tempDir, withEncryptionKeys } from "../support/databases.js";
import { startTestServer } from "../support/server.js";
import { openPrivateJwk, sqliteFileText, storedKeys } from "./support/stored-keys.js";

describe.each(ENGINES)("signing keys (%s)", (engine) => {
  test("the first start makes one Ed25519 key; its private half is stored only sealed", async () => {
    const t = await startTestServer({ engine });
    let privateD: string;
    try {
      const [key, ...others] = await storedKeys(t.config.databaseUrl);
      expect(others).toEqual([]);
      expect(key!.generation).toBe(1);
      // The first key signs at once and has no end yet.
      expect(key!.signs_from_ms).toBe(key!.created_ms);
      expect([key!.signs_until_ms, key!.published_until_ms]).toEqual([0, 0]);
      const publicJwk = JSON.parse(key!.public_jwk) as Record<string, string>;
      expect(publicJwk).toEqual({
        kty: "OKP",
        crv: "Ed25519",
        x: expect.any(String),
        kid: key!.kid,
        alg: "EdDSA",
        use: "sig",
      });
      expect(key!.private_sealed).toMatch(/^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      // The sealed value opens with the key file into the private half...
      const privateJwk = openPrivateJwk(t.config, key!);
      expect(privateJwk).toMatchObject({ kty: "OKP", crv: "Ed25519", x: publicJwk.x });
      privateD = privateJwk.d!;
      expect(privateD).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // ...which is in no column of the row, in any encoding.
      const row = JSON.stringify(key);
      for (const form of [privateD, Buffer.from(privateD, "base64url").toString("base64")]) {
        expect(row).not.toContain(form);
      }
    } finally {
      await t.close();
    }
    // Nor anywhere in the SQLite file or its WAL, as text or as raw bytes.
    const text = sqliteFileText(t.config.databaseUrl);
    expect(text).not.toContain(privateD);
    expect(text).not.toContain(Buffer.from(privateD, "base64url").toString("latin1"));
  }, 60_000);

  test("two servers starting at once on one empty database make one key, and both keep it", async () => {
    const databaseUrl = await freshDatabaseUrl(engine);
    // SQLite makes the key file beside the database on first start: give both the same one up front.
    const env = { ENCRYPTION_KEY_FILE: keyFile() };
    const servers = await Promise.all([startTestServer({ databaseUrl, env }), startTestServer({ databaseUrl, env })]);
    try {
      const keys = await storedKeys(databaseUrl);
      expect(keys.map((k) => k.generation)).toEqual([1]);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
    // A restart reuses it.
    const again = await startTestServer({ databaseUrl, env });
    await again.close();
    expect((await storedKeys(databaseUrl)).map((k) => k.generation)).toEqual([1]);
  }, 60_000);

  test("a signing key the encryption key file cannot open stops the start, naming ENCRYPTION_KEY_FILE", async () => {
    const databaseUrl = await freshDatabaseUrl(engine);
    const first = await startTestServer({ databaseUrl });
    const sealedWith = encryptionKeyFile(first.config)!;
    await first.close();
    const [key] = await storedKeys(databaseUrl);

    const otherFile = keyFile();
    const result = await runCli(["serve"], {
      DATABASE_URL: databaseUrl,
      ENCRYPTION_KEY_FILE: otherFile,
      PORT: "0",
      HOST: "127.0.0.1",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("ENCRYPTION_KEY_FILE");
    expect(result.stderr).toContain(`signing key ${key!.kid}`);
    expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    // Neither file's keys are shown.
    for (const file of [sealedWith, otherFile]) {
      for (const line of fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))) {
        expect(result.stderr + result.stdout).not.toContain(line);
      }
    }
    // Nothing was added or changed by the refused start.
    expect(await storedKeys(databaseUrl)).toEqual([key]);
  }, 60_000);
});

/** A new encryption key file (mode 0600) with one random key. */
function keyFile(): string {
  const file = path.join(tempDir("users-keys-"), "encryption-keys");
  fs.writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
  return file;
}

// The helper that gives PostgreSQL servers their key file must not hide the explicit one above.
test("withEncryptionKeys keeps an explicit ENCRYPTION_KEY_FILE", () => {
  expect(withEncryptionKeys({ DATABASE_URL: "postgres://x/y", ENCRYPTION_KEY_FILE: "/k" }).ENCRYPTION_KEY_FILE).toBe(
    "/k",
  );
});
