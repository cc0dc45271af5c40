// The passkey tables' storage contract on both engines: challenges are taken
// once (and never after they expire, nor for another purpose or namespace),
// credential ids are unique per namespace, the per-user cap holds under
// concurrent registrations, the counter moves only by compare-and-set, and a
// user's passkeys go with the user.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { PasskeyRow } from "../../src/storage/passkey-store.js";
import type { Repository } from "../../src/storage/repository.js";
import { digest, freshNamespace, freshRepository, user } from "../storage/fixtures.js";
import { ENGINES } from "../support/databases.js";

const T0 = 1_800_000_000_000;

function passkey(id: string, userId: string, credentialId: string, createdMs = T0): PasskeyRow {
  return {
    id,
    userId,
    credentialId,
    publicKey: Buffer.from([0xa5, 1, 2, 3, 0]),
    counter: 0,
    transports: ["internal", "hybrid"],
    name: "Laptop ✓",
    createdMs,
    lastUsedMs: 0,
  };
}

describe.each(ENGINES)("passkey storage (%s)", (engine) => {
  let repo: Repository;
  beforeAll(async () => {
    repo = await freshRepository(engine);
  });
  afterAll(() => repo.close());

  async function withUser(namespace: string, id: string) {
    await repo.insertUser(namespace, user(id, id, `${id}@example.com`), "$2b$04$hash");
  }

  test("a challenge is taken once, only live, only for its namespace and purpose", async () => {
    const ns = freshNamespace();
    const c = (name: string, expiresMs = T0 + 300_000) => ({
      namespace: ns,
      digest: digest(`${ns}/${name}`),
      purpose: "passkey_register" as const,
      userId: "u1",
      ticketDigest: Buffer.alloc(0),
      createdMs: T0,
      expiresMs,
    });
    await repo.insertChallenge(c("a"));
    expect(await repo.takeChallenge("other", digest(`${ns}/a`), "passkey_register", T0)).toBeUndefined();
    expect(await repo.takeChallenge(ns, digest(`${ns}/a`), "passkey_login", T0)).toBeUndefined();
    expect(await repo.takeChallenge(ns, digest(`${ns}/a`), "passkey_register", T0)).toEqual({
      userId: "u1",
      ticketDigest: Buffer.alloc(0),
    });
    expect(await repo.takeChallenge(ns, digest(`${ns}/a`), "passkey_register", T0)).toBeUndefined();

    await repo.insertChallenge(c("b", T0 + 10));
    expect(await repo.takeChallenge(ns, digest(`${ns}/b`), "passkey_register", T0 + 10)).toBeUndefined();
    // Expired and looked at: gone as well.
    await repo.insertChallenge(c("d", T0 + 10));
    expect(await repo.sweepChallenges(T0 + 11, 100)).toBeGreaterThanOrEqual(1);
    expect(await repo.takeChallenge(ns, digest(`${ns}/d`), "passkey_register", T0)).toBeUndefined();
  });

  test("concurrent takes of one challenge: exactly one gets it", async () => {
    const ns = freshNamespace();
    await repo.insertChallenge({
      namespace: ns,
      digest: digest(`${ns}/race`),
      purpose: "passkey_login",
      userId: "",
      ticketDigest: Buffer.alloc(0),
      createdMs: T0,
      expiresMs: T0 + 300_000,
    });
    const takes = await Promise.all(
      Array.from({ length: 8 }, () => repo.takeChallenge(ns, digest(`${ns}/race`), "passkey_login", T0)),
    );
    expect(takes.filter((t) => t !== undefined)).toHaveLength(1);
  });

  test("insert, list, find, use (compare-and-set), delete; duplicates and the cap refused", async () => {
    const ns = freshNamespace();
    await withUser(ns, "u1");
    await withUser(ns, "u2");
    expect(await repo.insertPasskey(ns, passkey("pk_1", "u1", "cred-1"), 2)).toBe("inserted");
    expect(await repo.insertPasskey(ns, passkey("pk_2", "u2", "cred-1"), 2)).toBe("duplicate");
    expect(await repo.insertPasskey(ns, passkey("pk_3", "nobody", "cred-3"), 2)).toBe("no_user");
    expect(await repo.insertPasskey(ns, passkey("pk_4", "u1", "cred-4", T0 + 1), 2)).toBe("inserted");
    expect(await repo.insertPasskey(ns, passkey("pk_5", "u1", "cred-5"), 2)).toBe("limit");
    // Another namespace may hold the same credential id (another registration there).
    const other = freshNamespace();
    await withUser(other, "u1");
    expect(await repo.insertPasskey(other, passkey("pk_1", "u1", "cred-1"), 2)).toBe("inserted");

    expect((await repo.listPasskeys(ns, "u1")).map((p) => p.id)).toEqual(["pk_1", "pk_4"]);
    expect(await repo.findPasskeyByCredential(ns, "cred-1")).toEqual(passkey("pk_1", "u1", "cred-1"));
    expect(await repo.findPasskeyByCredential(ns, "cred-x")).toBeUndefined();
    expect(await repo.hasPasskey(ns, "u1")).toBe(true);
    expect(await repo.hasPasskey(ns, "u2")).toBe(false);

    expect(await repo.usePasskey(ns, "pk_1", 0, 5, T0 + 100)).toBe(true);
    expect(await repo.usePasskey(ns, "pk_1", 0, 6, T0 + 101)).toBe(false);
    expect(await repo.findPasskeyByCredential(ns, "cred-1")).toMatchObject({ counter: 5, lastUsedMs: T0 + 100 });

    expect(await repo.deletePasskey(ns, "u2", "pk_1")).toBe(false);
    expect(await repo.deletePasskey(ns, "u1", "pk_1")).toBe(true);
    expect(await repo.deletePasskey(ns, "u1", "pk_1")).toBe(false);
    expect((await repo.listPasskeys(other, "u1")).map((p) => p.id)).toEqual(["pk_1"]);
  });

  test("the per-user cap holds when registrations race", async () => {
    const ns = freshNamespace();
    await withUser(ns, "racer");
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => repo.insertPasskey(ns, passkey(`pk_r${i}`, "racer", `cred-r${i}`), 3)),
    );
    expect(outcomes.filter((o) => o === "inserted")).toHaveLength(3);
    expect(await repo.listPasskeys(ns, "racer")).toHaveLength(3);
  });

  test("deleting the user deletes its passkeys", async () => {
    const ns = freshNamespace();
    await withUser(ns, "gone");
    await repo.insertPasskey(ns, passkey("pk_g", "gone", "cred-g"), 5);
    expect(await repo.deleteUser(ns, "gone")).toBe(true);
    expect(await repo.findPasskeyByCredential(ns, "cred-g")).toBeUndefined();
  });
});
