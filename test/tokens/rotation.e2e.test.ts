// `users-service signing-keys rotate` against a running server that never
// restarts: the new key is published before it signs, tokens signed before
// and after the switch both verify (in a separate process, with jose and the
// published keys) during the overlap, and once the old key's last token has
// expired it leaves the key set and the database. The server's clock is
// moved by hand; the command runs as an operator runs it.
import { describe, expect, test } from "@jest/globals";
import { encryptionKeyFile, readEncryptionKeys } from "../../src/files/encryption-key-file.js";
import { SecretBox } from "../../src/service/secret-box.js";
import { addNextKey } from "../../src/service/signing-keys.js";
import { rpc } from "../reliability/support/rpc.js";
import { Wire } from "../reliability/support/wire.js";
import { runCli } from "../support/cli.js";
import { TestClock } from "../support/clock.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer } from "../support/server.js";
import { storedKeys } from "./support/stored-keys.js";
import { verifyElsewhere } from "./support/verify.js";

const ISSUER = "https://users.example.test";
const TIMES = { ACCESS_TOKEN_TTL_SECONDS: "60", JWKS_MAX_AGE_SECONDS: "0", SIGNING_KEY_RELOAD_SECONDS: "1" };

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")) as { kid: string }).kid;
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as { iat: number; exp: number };

describe.each(ENGINES)("signing key rotation (%s)", (engine) => {
  test("published before it signs; old and new tokens verify during the overlap; the old key goes after its last token", async () => {
    const clock = new TestClock(Date.now());
    const t = await startTestServer({ engine, now: clock.now, env: { PUBLIC_URL: ISSUER, ...TIMES } });
    const wire = new Wire(t.url);
    const headers = { authorization: `Bearer ${t.adminKey}` };
    const cli = { DATABASE_URL: t.config.databaseUrl, ENCRYPTION_KEY_FILE: encryptionKeyFile(t.config)!, ...TIMES };
    const jwks = async () =>
      ((await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map(
        (k) => k.kid,
      );
    const token = async () => {
      const answer = await rpc(wire, "grpc", "createToken", { sessionId: session }, headers);
      expect(answer.code).toBe("ok");
      return answer.json!.accessToken as string;
    };
    const verify = (tokens: string[], currentDate?: number) =>
      verifyElsewhere({ jwksUrl: `${t.url}/.well-known/jwks.json`, issuer: ISSUER, tokens, currentDate });
    let session = "";
    try {
      await rpc(
        wire,
        "connect-json",
        "create",
        { username: "rot", email: "rot@example.com", password: "correct horse" },
        headers,
      );
      const login = await rpc(wire, "connect-json", "login", { username: "rot", password: "correct horse" }, headers);
      session = (login.json!.session as { id: string }).id;
      const [oldKey] = await storedKeys(t.config.databaseUrl);
      const before = await token();
      expect(kidOf(before)).toBe(oldKey!.kid);

      const rotated = await runCli(["signing-keys", "rotate"], cli);
      expect(rotated.stderr).toBe("");
      expect(rotated.code).toBe(0);
      const [, newKey] = await storedKeys(t.config.databaseUrl);
      expect(rotated.stdout).toContain(`Added signing key ${newKey!.kid} (generation 2)`);
      // Publish delay: JWKS_MAX_AGE_SECONDS (0) + SIGNING_KEY_RELOAD_SECONDS (1) + 60 s.
      expect(newKey!.signs_from_ms - newKey!.created_ms).toBe(61_000);
      expect(newKey!.signs_from_ms).toBeGreaterThanOrEqual(clock.now() + 61_000);
      const listed = await runCli(["signing-keys", "list"], cli);
      expect(listed.stdout).toMatch(new RegExp(`${oldKey!.kid}  generation 1  signing`));
      expect(listed.stdout).toMatch(new RegExp(`${newKey!.kid}  generation 2  pending`));
      expect(listed.stdout + listed.stderr).not.toContain(newKey!.private_sealed);

      // The running server publishes the new key without a restart, and still signs with the old one.
      await until("the new key in the key set", jwks, (kids) => kids.length === 2);
      expect((await jwks()).sort()).toEqual([oldKey!.kid, newKey!.kid].sort());
      expect(kidOf(await token())).toBe(oldKey!.kid);

      // After the publish delay the new key signs; both tokens verify.
      // (The command used the wall clock; the server's moved on from where the test started it.)
      clock.advance((newKey!.signs_from_ms - clock.now()) / 1000 + 1);
      const after = await token();
      expect(kidOf(after)).toBe(newKey!.kid);
      const overlap = await verify([before, after]);
      expect(overlap.map((r) => (r.ok ? r.header.kid : r.code))).toEqual([oldKey!.kid, newKey!.kid]);

      // The old key is published until ACCESS_TOKEN_TTL_SECONDS + 60 s after the switch, then deleted.
      const [retiring] = await storedKeys(t.config.databaseUrl);
      expect(retiring!.signs_until_ms).toBe(newKey!.signs_from_ms);
      expect(retiring!.published_until_ms).toBe(newKey!.signs_from_ms + 120_000);
      expect(claimsOf(before).exp * 1000).toBeLessThanOrEqual(retiring!.published_until_ms);
      expect((await jwks()).length).toBe(2);
      clock.advance((retiring!.published_until_ms - clock.now()) / 1000 + 1);
      expect(await jwks()).toEqual([newKey!.kid]);
      await until(
        "the old key deleted",
        () => storedKeys(t.config.databaseUrl),
        (keys) => keys.length === 1,
      );
      // Judged at their issue times (so expiry is not what refuses them): the old kid is unknown now.
      const gone = await verify([before], claimsOf(before).iat + 1);
      expect(gone.map((r) => (r.ok ? "ok" : r.code))).toEqual(["ERR_JWKS_NO_MATCHING_KEY"]);
      const kept = await verify([after], claimsOf(after).iat + 1);
      expect(kept.map((r) => (r.ok ? "ok" : r.code))).toEqual(["ok"]);

      // Two rotations that read the same keys (two operators at once) add one key: the other is told.
      const seen = await t.server.repo.listSigningKeys();
      const box = new SecretBox(readEncryptionKeys(cli.ENCRYPTION_KEY_FILE, { create: false }).keys);
      const times = { accessTokenTtlSeconds: 60, jwksMaxAgeSeconds: 0, signingKeyReloadSeconds: 1 };
      const raced = await Promise.all([
        addNextKey(t.server.repo, box, times, Date.now(), seen),
        addNextKey(t.server.repo, box, times, Date.now(), seen),
      ]);
      expect(raced.filter((k) => k !== undefined).length).toBe(1);
      expect((await storedKeys(t.config.databaseUrl)).map((k) => k.generation)).toEqual([2, 3]);
      const third = await runCli(["signing-keys", "rotate"], cli);
      expect(third.code).toBe(0);
      expect((await storedKeys(t.config.databaseUrl)).map((k) => k.generation)).toEqual([2, 3, 4]);
    } finally {
      wire.close();
      await t.close();
    }
  }, 90_000);
});
