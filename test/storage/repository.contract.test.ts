// The storage contract: every rule of the Repository interface, run unchanged
// against each engine, so SQLite and PostgreSQL cannot drift apart. Tests
// that share a database use their own namespaces; tests of global state (API
// keys, sweep, export) get a database of their own.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { prefixUpperBound } from "../../src/storage/prefix-range.js";
import {
  type Repository,
  StorageUnavailable,
  type ThrottlePolicy,
  UniqueViolation,
  type UserExport,
} from "../../src/storage/repository.js";
import { ENGINES } from "../support/databases.js";
import { apiKey, digest, freshNamespace, freshRepository, outcome, session, sid, user } from "./fixtures.js";

/** Records one failed check of `account` (an attempt without a slot) and returns the account's row after it. */
async function fail(repo: Repository, ns: string, account: string, nowMs: number, policy: ThrottlePolicy) {
  await repo.failLoginAttempt(ns, { accounts: [account], attempt: "no-slot" }, nowMs, policy);
  return repo.getLoginThrottle(ns, account);
}

async function uniqueField(promise: Promise<unknown>): Promise<string> {
  const result = await outcome(promise);
  if (result.ok) throw new Error("expected a UniqueViolation, but the write succeeded");
  if (!(result.error instanceof UniqueViolation)) throw result.error;
  return result.error.field;
}

describe.each(ENGINES)("Repository contract (%s)", (engine) => {
  let repo: Repository;
  beforeAll(async () => {
    repo = await freshRepository(engine);
  });
  afterAll(() => repo.close());

  test("names its engine and answers ping", async () => {
    expect(repo.engine).toBe(engine);
    await expect(repo.ping()).resolves.toBeUndefined();
  });

  describe("users", () => {
    test("insert, then read by id, username and email with the password hash", async () => {
      const ns = freshNamespace();
      const alice = { ...user("u1", "alice", "alice@example.com", 1_700_000_000_123), updatedMs: 1_700_000_000_456 };
      await repo.insertUser(ns, alice, "hash-a");
      expect(await repo.getUser(ns, "u1")).toEqual(alice);
      const credential = { user: alice, passwordHash: "hash-a" };
      expect(await repo.getCredential(ns, "u1")).toEqual(credential);
      expect(await repo.findCredentialByUsername(ns, "alice")).toEqual(credential);
      expect(await repo.findCredentialByEmail(ns, "alice@example.com")).toEqual(credential);
    });

    test("unknown users are undefined, not errors", async () => {
      const ns = freshNamespace();
      expect(await repo.getUser(ns, "nobody")).toBeUndefined();
      expect(await repo.getCredential(ns, "nobody")).toBeUndefined();
      expect(await repo.findCredentialByUsername(ns, "nobody")).toBeUndefined();
      expect(await repo.findCredentialByEmail(ns, "nobody@example.com")).toBeUndefined();
    });

    test("lookups are exact: no prefix, no case folding, no wildcard", async () => {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("u1", "alice", "alice@example.com"), "h");
      expect(await repo.findCredentialByUsername(ns, "alic")).toBeUndefined();
      expect(await repo.findCredentialByUsername(ns, "ALICE")).toBeUndefined();
      expect(await repo.findCredentialByUsername(ns, "al%")).toBeUndefined();
      expect(await repo.findCredentialByEmail(ns, "alice@example.co")).toBeUndefined();
      expect(await repo.getUser(ns, "U1")).toBeUndefined();
    });

    test("a clash on id, username or email is a UniqueViolation naming the field, and writes nothing", async () => {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("u1", "alice", "alice@example.com"), "h1");
      expect(await uniqueField(repo.insertUser(ns, user("u1", "other", "other@example.com"), "h2"))).toBe("id");
      expect(await uniqueField(repo.insertUser(ns, user("u2", "alice", "other@example.com"), "h2"))).toBe("username");
      expect(await uniqueField(repo.insertUser(ns, user("u2", "other", "alice@example.com"), "h2"))).toBe("email");
      expect(await repo.getUser(ns, "u2")).toBeUndefined();
      expect(await repo.getCredential(ns, "u2")).toBeUndefined();
      expect(await repo.findCredentialByUsername(ns, "other")).toBeUndefined();
      expect(await repo.getCredential(ns, "u1")).toMatchObject({ passwordHash: "h1", user: { username: "alice" } });
      // The namespace is still fully usable after the failed writes.
      await repo.insertUser(ns, user("u2", "other", "other@example.com"), "h2");
    });

    test("update changes the given fields only and returns the user after the change", async () => {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("u1", "alice", "alice@example.com", 1_000), "h");
      expect(await repo.updateUser(ns, "u1", { username: "alicia" }, 2_000)).toEqual({
        id: "u1",
        username: "alicia",
        email: "alice@example.com",
        createdMs: 1_000,
        updatedMs: 2_000,
      });
      expect(await repo.updateUser(ns, "u1", { email: "alicia@example.com" }, 3_000)).toMatchObject({
        username: "alicia",
        email: "alicia@example.com",
        updatedMs: 3_000,
      });
      expect(await repo.updateUser(ns, "u1", { username: "al", email: "al@example.com" }, 4_000)).toMatchObject({
        username: "al",
        email: "al@example.com",
      });
      expect(await repo.updateUser(ns, "u1", {}, 5_000)).toMatchObject({ username: "al", updatedMs: 5_000 });
      expect(await repo.getUser(ns, "u1")).toEqual({
        id: "u1",
        username: "al",
        email: "al@example.com",
        createdMs: 1_000,
        updatedMs: 5_000,
      });
      // The old names are free again, the new ones find the user.
      expect(await repo.findCredentialByUsername(ns, "alice")).toBeUndefined();
      expect(await repo.findCredentialByEmail(ns, "al@example.com")).toMatchObject({ user: { id: "u1" } });
    });

    test("update of an unknown user is undefined", async () => {
      expect(await repo.updateUser(freshNamespace(), "nobody", { username: "x" }, 1)).toBeUndefined();
    });

    test("update to a taken username or email is a UniqueViolation and changes nothing; its own values are fine", async () => {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("u1", "alice", "alice@example.com"), "h");
      await repo.insertUser(ns, user("u2", "bob", "bob@example.com"), "h");
      expect(await uniqueField(repo.updateUser(ns, "u2", { username: "alice" }, 2_000))).toBe("username");
      expect(await uniqueField(repo.updateUser(ns, "u2", { email: "alice@example.com" }, 2_000))).toBe("email");
      expect(
        await uniqueField(repo.updateUser(ns, "u2", { username: "carol", email: "alice@example.com" }, 2_000)),
      ).toBe("email");
      expect(await repo.getUser(ns, "u2")).toEqual(user("u2", "bob", "bob@example.com"));
      expect(await repo.updateUser(ns, "u2", { username: "bob", email: "bob@example.com" }, 3_000)).toMatchObject({
        username: "bob",
        updatedMs: 3_000,
      });
    });

    test("delete removes the user with its password and sessions; a second delete is false", async () => {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("u1", "alice", "alice@example.com"), "h");
      expect(await repo.insertSession(ns, session(ns, "s1", "u1", 1_000, 10_000), "h")).toBe(true);
      expect(await repo.deleteUser(ns, "u1")).toBe(true);
      expect(await repo.getUser(ns, "u1")).toBeUndefined();
      expect(await repo.getCredential(ns, "u1")).toBeUndefined();
      expect(await repo.getSession(ns, sid(ns, "s1"), 2_000)).toBeUndefined();
      expect(await repo.deleteUser(ns, "u1")).toBe(false);
      // Everything is free again; the old session does not come back with a new user of the same id.
      await repo.insertUser(ns, user("u1", "alice", "alice@example.com"), "h");
      expect(await repo.getSession(ns, sid(ns, "s1"), 2_000)).toBeUndefined();
      expect(await repo.listSessions(ns, "u1", 2_000, 10)).toEqual([]);
    });
  });

  describe("namespaces", () => {
    test("the same id, username and email live in two namespaces, and no method crosses over", async () => {
      const a = freshNamespace();
      const b = freshNamespace();
      await repo.insertUser(a, user("same", "same", "same@example.com", 1_000), "hash-a");
      await repo.insertUser(b, user("same", "same", "same@example.com", 2_000), "hash-b");
      expect(await repo.getUser(a, "same")).toMatchObject({ createdMs: 1_000 });
      expect(await repo.getUser(b, "same")).toMatchObject({ createdMs: 2_000 });
      expect(await repo.findCredentialByUsername(b, "same")).toMatchObject({ passwordHash: "hash-b" });
      expect(await repo.findCredentialByEmail(a, "same@example.com")).toMatchObject({ passwordHash: "hash-a" });

      // Sessions: one namespace's digest is unknown in the other.
      expect(await repo.insertSession(a, session(a, "sa", "same", 1_000, 10_000), "hash-a")).toBe(true);
      expect(await repo.insertSession(b, session(b, "sb", "same", 1_000, 10_000), "hash-a")).toBe(false); // b's hash differs
      expect(await repo.insertSession(b, session(b, "sb", "same", 1_000, 10_000), "hash-b")).toBe(true);
      expect(await repo.getSession(b, sid(a, "sa"), 2_000)).toBeUndefined();
      await repo.deleteSession(b, sid(a, "sa"));
      expect(await repo.getSession(a, sid(a, "sa"), 2_000)).toBeDefined();
      expect(await repo.deleteSessions(b, "same", [sid(a, "sa")])).toBe(0);
      expect((await repo.listSessions(a, "same", 2_000, 10)).map((s) => s.idDigest)).toEqual([sid(a, "sa")]);

      // Writes in one namespace leave the other alone.
      await repo.updateUser(a, "same", { username: "changed" }, 3_000);
      expect(await repo.getUser(b, "same")).toMatchObject({ username: "same" });
      expect(await repo.searchUsers(b, { usernamePrefix: "ch", emailPrefix: "", limit: 10, offset: 0 })).toEqual([]);
      expect(await repo.replacePasswordHash(b, "same", "hash-a", "new", 3_000)).toBe(false);
      expect(await repo.replacePasswordHash(a, "same", "hash-a", "new-a", 3_000)).toBe(true);
      expect(await repo.getSession(b, sid(b, "sb"), 4_000)).toMatchObject({ userId: "same" }); // b's session survives
      expect(await repo.getCredential(b, "same")).toMatchObject({ passwordHash: "hash-b" });
      expect(await repo.deleteSessions(b, "same", null)).toBe(1);
      expect(await repo.deleteUser(b, "same")).toBe(true);
      expect(await repo.getUser(a, "same")).toMatchObject({ username: "changed" });
    });

    test("login throttling counts per namespace", async () => {
      const a = freshNamespace();
      const b = freshNamespace();
      const policy = { maxFailures: 5, baseLockMs: 1_000, maxLockMs: 60_000 };
      await fail(repo, a, "username:x", 1_000, policy);
      await fail(repo, a, "username:x", 1_000, policy);
      expect(await fail(repo, b, "username:x", 1_000, policy)).toEqual({ failures: 1, lockedUntilMs: 0 });
      await repo.endLoginAttempt(b, { accounts: ["username:x"], attempt: "any" }, true);
      expect(await repo.getLoginThrottle(a, "username:x")).toEqual({ failures: 2, lockedUntilMs: 0 });
    });
  });

  describe("search", () => {
    const all = { usernamePrefix: "", emailPrefix: "", limit: 1000, offset: 0 };
    const ids = async (ns: string, query: Partial<typeof all>) =>
      (await repo.searchUsers(ns, { ...all, ...query })).map((u) => u.id);

    test("no prefix: everyone, ordered by created then id in code point order", async () => {
      const ns = freshNamespace();
      // Inserted out of order; equal created times order by id byte-wise
      // ("-" < "." < digits < upper case < "_" < lower case), as no natural-language collation would.
      const rows = [
        user("b", "u1", "1@x.co", 2_000),
        user("a", "u2", "2@x.co", 2_000),
        user("_", "u3", "3@x.co", 2_000),
        user("Z", "u4", "4@x.co", 2_000),
        user("9", "u5", "5@x.co", 2_000),
        user(".", "u6", "6@x.co", 2_000),
        user("-", "u7", "7@x.co", 2_000),
        user("z", "u8", "8@x.co", 1_000),
        user("A", "u9", "9@x.co", 3_000),
      ];
      for (const row of rows) await repo.insertUser(ns, row, "h");
      expect(await ids(ns, {})).toEqual(["z", "-", ".", "9", "Z", "_", "a", "b", "A"]);
      expect((await repo.searchUsers(ns, all))[0]).toEqual(user("z", "u8", "8@x.co", 1_000));
    });

    test("limit and offset page through the same order", async () => {
      const ns = freshNamespace();
      for (let i = 0; i < 7; i++)
        await repo.insertUser(ns, user(`id${i}`, `user${i}`, `u${i}@x.co`, 1_000 + (i % 3)), "h");
      const everyone = await ids(ns, {});
      expect(everyone).toHaveLength(7);
      const pages: string[] = [];
      for (let offset = 0; offset < 7; offset += 3) pages.push(...(await ids(ns, { limit: 3, offset })));
      expect(pages).toEqual(everyone);
      expect(await ids(ns, { limit: 2, offset: 1 })).toEqual(everyone.slice(1, 3));
      expect(await ids(ns, { limit: 3, offset: 7 })).toEqual([]);
      expect(await ids(ns, { limit: 0 })).toEqual([]);
    });

    test("username prefix: a range, case-sensitive on the lowercased column, no wildcards", async () => {
      const ns = freshNamespace();
      const names = ["al", "alice", "alfred", "alz", "am", "a_b", "axb", "a-b", "bob", "ak"];
      for (const [i, name] of names.entries()) await repo.insertUser(ns, user(`id-${name}`, name, `${i}@x.co`, i), "h");
      expect(await ids(ns, { usernamePrefix: "al" })).toEqual(["id-al", "id-alice", "id-alfred", "id-alz"]);
      expect(await ids(ns, { usernamePrefix: "alice" })).toEqual(["id-alice"]);
      expect(await ids(ns, { usernamePrefix: "alicex" })).toEqual([]);
      expect(await ids(ns, { usernamePrefix: "a_" })).toEqual(["id-a_b"]);
      expect(await ids(ns, { usernamePrefix: "a%" })).toEqual([]);
      expect(await ids(ns, { usernamePrefix: "AL" })).toEqual([]);
      expect(await ids(ns, { usernamePrefix: "z" })).toEqual([]);
    });

    test("email prefix with non-ASCII characters goes by code point, not UTF-16 units", async () => {
      const ns = freshNamespace();
      const emails = [
        "zoe@x.co",
        "zoë@x.co",
        "zoé@x.co",
        "zoëlle@x.co",
        "\u{FFFD}a@x.co", // U+FFFD: above every surrogate in UTF-16, below U+1F600 by code point
        "😀@x.co", // U+1F600
        "\u{D7FF}@x.co",
        "\u{E000}@x.co",
      ];
      for (const [i, email] of emails.entries()) await repo.insertUser(ns, user(`e${i}`, `user${i}`, email, i), "h");
      expect(await ids(ns, { emailPrefix: "zo" })).toEqual(["e0", "e1", "e2", "e3"]);
      expect(await ids(ns, { emailPrefix: "zoë" })).toEqual(["e1", "e3"]);
      expect(await ids(ns, { emailPrefix: "zoé@" })).toEqual(["e2"]);
      expect(await ids(ns, { emailPrefix: "\u{FFFD}" })).toEqual(["e4"]);
      expect(await ids(ns, { emailPrefix: "😀" })).toEqual(["e5"]);
      // The bound after U+D7FF skips the surrogate range to U+E000.
      expect(prefixUpperBound("\u{D7FF}")).toBe("\u{E000}");
      expect(await ids(ns, { emailPrefix: "\u{D7FF}" })).toEqual(["e6"]);
      expect(await ids(ns, { emailPrefix: "\u{E000}" })).toEqual(["e7"]);
    });

    test("prefixes ending in U+10FFFF carry into the previous character, or have no upper bound", async () => {
      const ns = freshNamespace();
      const emails = [
        "a\u{10FFFF}@x.co",
        "a\u{10FFFF}\u{10FFFF}b@x.co",
        "a\u{10FFFF}",
        "b@x.co",
        "\u{10FFFF}z@x.co",
        "a@x.co",
      ];
      for (const [i, email] of emails.entries()) await repo.insertUser(ns, user(`m${i}`, `user${i}`, email, i), "h");
      expect(prefixUpperBound("a\u{10FFFF}")).toBe("b");
      expect(prefixUpperBound("\u{10FFFF}")).toBeUndefined();
      expect(await ids(ns, { emailPrefix: "a\u{10FFFF}" })).toEqual(["m0", "m1", "m2"]);
      expect(await ids(ns, { emailPrefix: "a\u{10FFFF}\u{10FFFF}" })).toEqual(["m1"]);
      expect(await ids(ns, { emailPrefix: "\u{10FFFF}" })).toEqual(["m4"]);
      expect(await ids(ns, { emailPrefix: "a" })).toEqual(["m0", "m1", "m2", "m5"]);
    });

    test("both prefixes must match; a prefix no stored value can start with matches none", async () => {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("1", "alice", "alice@a.co", 1), "h");
      await repo.insertUser(ns, user("2", "alfred", "fred@a.co", 2), "h");
      await repo.insertUser(ns, user("3", "bob", "alice.b@a.co", 3), "h");
      expect(await ids(ns, { usernamePrefix: "al", emailPrefix: "al" })).toEqual(["1"]);
      expect(await ids(ns, { usernamePrefix: "al", emailPrefix: "fred" })).toEqual(["2"]);
      expect(await ids(ns, { usernamePrefix: "bob", emailPrefix: "fred" })).toEqual([]);
      expect(await ids(ns, { emailPrefix: "al" })).toEqual(["1", "3"]);
      expect(await ids(ns, { emailPrefix: "al\u0000" })).toEqual([]);
      expect(await ids(ns, { usernamePrefix: "\u0000" })).toEqual([]);
    });
  });

  describe("sessions", () => {
    async function withUser(hash = "h"): Promise<string> {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("u1", "alice", "alice@example.com"), hash);
      return ns;
    }

    test("inserted only against the current hash of an existing user", async () => {
      const ns = await withUser("current");
      expect(await repo.insertSession(ns, session(ns, "s1", "u1", 1_000, 5_000), "stale")).toBe(false);
      expect(await repo.getSession(ns, sid(ns, "s1"), 2_000)).toBeUndefined();
      expect(await repo.insertSession(ns, session(ns, "s2", "nobody", 1_000, 5_000), "current")).toBe(false);
      expect(await repo.insertSession(ns, session(ns, "s1", "u1", 1_000, 5_000), "current")).toBe(true);
      expect(await repo.getSession(ns, sid(ns, "s1"), 2_000)).toEqual({
        userId: "u1",
        username: "alice",
        email: "alice@example.com",
        createdMs: 1_000,
        expiresMs: 5_000,
      });
    });

    test("a login's session ends its attempt (slots and failures) in the same write, only when it is inserted", async () => {
      const ns = await withUser("current");
      const policy = { maxFailures: 3, baseLockMs: 1_000, maxLockMs: 60_000 };
      for (const account of ["username:alice", "user:u1", "username:other"]) {
        await fail(repo, ns, account, 1_000, policy);
        await fail(repo, ns, account, 1_000, policy);
      }
      const attempt = { accounts: ["username:alice", "user:u1"], attempt: "a1" };
      expect(await repo.reserveLoginAttempt(ns, attempt, 1_000, 60_000, policy)).toEqual({ admitted: true });
      const ends = { endsAttempt: attempt };
      // The password changed after the check: no session, and the attempt keeps its slots and counts.
      expect(await repo.insertSession(ns, session(ns, "s0", "u1", 1_000, 5_000), "stale", ends)).toBe(false);
      expect(await repo.getLoginThrottle(ns, "username:alice")).toEqual({ failures: 2, lockedUntilMs: 0 });
      const other = { accounts: ["username:alice"], attempt: "a2" };
      expect(await repo.reserveLoginAttempt(ns, other, 1_000, 60_000, policy)).toEqual({
        admitted: false,
        lockedUntilMs: 0,
      });
      expect(await repo.insertSession(ns, session(ns, "s1", "u1", 1_000, 5_000), "current", ends)).toBe(true);
      expect(await repo.getSession(ns, sid(ns, "s1"), 2_000)).toMatchObject({ userId: "u1" });
      expect(await repo.getLoginThrottle(ns, "username:alice")).toBeUndefined();
      expect(await repo.getLoginThrottle(ns, "user:u1")).toBeUndefined();
      // Only the attempt's accounts, and nothing to clear is fine; its slots are free again.
      expect(await repo.getLoginThrottle(ns, "username:other")).toEqual({ failures: 2, lockedUntilMs: 0 });
      expect(await repo.insertSession(ns, session(ns, "s2", "u1", 1_000, 5_000), "current", ends)).toBe(true);
      expect(await repo.reserveLoginAttempt(ns, other, 1_000, 60_000, policy)).toEqual({ admitted: true });
    });

    test("a cap of N keeps the user's N newest sessions, the new one included, and only that user's", async () => {
      const ns = await withUser("h");
      await repo.insertUser(ns, user("u2", "bob", "bob@example.com"), "h");
      await repo.insertSession(ns, session(ns, "bobs", "u2", 1, 50_000), "h");
      for (let i = 0; i < 6; i++) {
        expect(
          await repo.insertSession(ns, session(ns, `s${i}`, "u1", 1_000 + i, 50_000), "h", { maxSessions: 3 }),
        ).toBe(true);
      }
      const kept = (await repo.listSessions(ns, "u1", 0, 100)).map((r) => r.idDigest);
      expect(kept).toEqual([sid(ns, "s5"), sid(ns, "s4"), sid(ns, "s3")]);
      expect(await repo.listSessions(ns, "u2", 0, 100)).toHaveLength(1);
      // Not inserted (stale hash): nothing is ended either.
      expect(await repo.insertSession(ns, session(ns, "s9", "u1", 9_000, 50_000), "stale", { maxSessions: 1 })).toBe(
        false,
      );
      expect(await repo.listSessions(ns, "u1", 0, 100)).toHaveLength(3);
    });

    test("concurrent logins of one user never leave more than the cap", async () => {
      const ns = await withUser("h");
      await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          repo.insertSession(ns, session(ns, `c${i}`, "u1", 1_000 + i, 50_000), "h", { maxSessions: 5 }),
        ),
      );
      expect(await repo.listSessions(ns, "u1", 0, 100)).toHaveLength(5);
    });

    test("deleting a user with many sessions ends them all", async () => {
      const ns = await withUser("h");
      for (let i = 0; i < 2_500; i += 500) {
        await Promise.all(
          Array.from({ length: 500 }, (_, j) =>
            repo.insertSession(ns, session(ns, `m${i + j}`, "u1", 1_000, 50_000), "h"),
          ),
        );
      }
      expect(await repo.deleteUser(ns, "u1")).toBe(true);
      expect(await repo.listSessions(ns, "u1", 0, 10)).toEqual([]);
      expect(await repo.getSession(ns, sid(ns, "m0"), 2_000)).toBeUndefined();
      expect(await repo.deleteUser(ns, "u1")).toBe(false);
    });

    test("a session is there until, not at, its expiry, and shows the user's current names", async () => {
      const ns = await withUser();
      await repo.insertSession(ns, session(ns, "s1", "u1", 1_000, 5_000), "h");
      expect(await repo.getSession(ns, sid(ns, "s1"), 4_999)).toBeDefined();
      expect(await repo.getSession(ns, sid(ns, "s1"), 5_000)).toBeUndefined();
      await repo.updateUser(ns, "u1", { username: "alicia", email: "alicia@example.com" }, 2_000);
      expect(await repo.getSession(ns, sid(ns, "s1"), 2_000)).toMatchObject({
        username: "alicia",
        email: "alicia@example.com",
      });
      expect(await repo.getSession(ns, sid(ns, "other"), 2_000)).toBeUndefined();
    });

    test("list: unexpired only, newest first (created, then digest), at most limit", async () => {
      const ns = await withUser();
      await repo.insertUser(ns, user("u2", "bob", "bob@example.com"), "h");
      const rows = [
        session(ns, "old", "u1", 1_000, 50_000),
        session(ns, "expired", "u1", 3_000, 4_000),
        session(ns, "new-1", "u1", 3_000, 50_000),
        session(ns, "new-2", "u1", 3_000, 60_000),
        session(ns, "mid", "u1", 2_000, 50_000),
        session(ns, "bobs", "u2", 2_500, 50_000),
      ];
      for (const row of rows) expect(await repo.insertSession(ns, row, "h")).toBe(true);
      const [first, second] = [sid(ns, "new-1"), sid(ns, "new-2")].sort(Buffer.compare).reverse();
      const listed = await repo.listSessions(ns, "u1", 4_000, 10);
      expect(listed.map((s) => s.idDigest)).toEqual([first, second, sid(ns, "mid"), sid(ns, "old")]);
      expect(listed[2]).toEqual({ idDigest: sid(ns, "mid"), createdMs: 2_000, expiresMs: 50_000 });
      expect(Buffer.isBuffer(listed[0]!.idDigest)).toBe(true);
      expect((await repo.listSessions(ns, "u1", 4_000, 2)).map((s) => s.idDigest)).toEqual([first, second]);
      expect(await repo.listSessions(ns, "u1", 3_999, 10)).toHaveLength(5);
      expect(await repo.listSessions(ns, "nobody", 0, 10)).toEqual([]);
    });

    test("delete one (idempotent), some by digest (only the user's own), or all; counts what went", async () => {
      const ns = await withUser();
      await repo.insertUser(ns, user("u2", "bob", "bob@example.com"), "h");
      for (const name of ["a", "b", "c", "d"])
        await repo.insertSession(ns, session(ns, name, "u1", 1_000, 50_000), "h");
      await repo.insertSession(ns, session(ns, "bobs", "u2", 1_000, 50_000), "h");

      await repo.deleteSession(ns, sid(ns, "a"));
      await repo.deleteSession(ns, sid(ns, "a"));
      expect(await repo.getSession(ns, sid(ns, "a"), 2_000)).toBeUndefined();

      expect(
        await repo.deleteSessions(ns, "u1", [sid(ns, "b"), sid(ns, "bobs"), sid(ns, "a"), digest("unknown")]),
      ).toBe(1);
      expect(await repo.getSession(ns, sid(ns, "bobs"), 2_000)).toBeDefined();
      expect(await repo.deleteSessions(ns, "u1", [])).toBe(0);
      expect(await repo.deleteSessions(ns, "u1", null)).toBe(2);
      expect(await repo.deleteSessions(ns, "u1", null)).toBe(0);
      expect(await repo.listSessions(ns, "u2", 2_000, 10)).toHaveLength(1);
    });

    test("replacing the hash needs the expected one, and ends every session of that user only", async () => {
      const ns = await withUser("old");
      await repo.insertUser(ns, user("u2", "bob", "bob@example.com"), "old");
      await repo.insertSession(ns, session(ns, "s1", "u1", 1_000, 50_000), "old");
      await repo.insertSession(ns, session(ns, "s2", "u1", 1_000, 50_000), "old");
      await repo.insertSession(ns, session(ns, "bobs", "u2", 1_000, 50_000), "old");

      expect(await repo.replacePasswordHash(ns, "u1", "wrong", "new", 2_000)).toBe(false);
      expect(await repo.getCredential(ns, "u1")).toMatchObject({ passwordHash: "old" });
      expect(await repo.listSessions(ns, "u1", 2_000, 10)).toHaveLength(2);
      expect(await repo.replacePasswordHash(ns, "nobody", "old", "new", 2_000)).toBe(false);

      expect(await repo.replacePasswordHash(ns, "u1", "old", "new", 2_000)).toBe(true);
      expect(await repo.getCredential(ns, "u1")).toMatchObject({ passwordHash: "new" });
      expect(await repo.listSessions(ns, "u1", 2_000, 10)).toEqual([]);
      expect(await repo.getSession(ns, sid(ns, "bobs"), 2_000)).toBeDefined();
      expect(await repo.replacePasswordHash(ns, "u1", "old", "newer", 3_000)).toBe(false);
      expect(await repo.insertSession(ns, session(ns, "s3", "u1", 3_000, 50_000), "old")).toBe(false);
      expect(await repo.insertSession(ns, session(ns, "s3", "u1", 3_000, 50_000), "new")).toBe(true);
      expect(await repo.getUser(ns, "u1")).toMatchObject({ updatedMs: 1_000 }); // the user row is not touched
    });

    test("re-hashing the same password (revokeSessions false) keeps the sessions", async () => {
      const ns = await withUser("old");
      await repo.insertSession(ns, session(ns, "kept", "u1", 1_000, 50_000), "old");
      expect(await repo.replacePasswordHash(ns, "u1", "stale", "rehashed", 2_000, false)).toBe(false);
      expect(await repo.replacePasswordHash(ns, "u1", "old", "rehashed", 2_000, false)).toBe(true);
      expect(await repo.getCredential(ns, "u1")).toMatchObject({ passwordHash: "rehashed" });
      expect(await repo.getSession(ns, sid(ns, "kept"), 2_000)).toBeDefined();
    });

    // PostgreSQL sends lookups of one event-loop turn as one statement (coalesced-reads.ts).
    test("lookups made at once answer as each would alone", async () => {
      const ns = await withUser("h");
      const other = freshNamespace();
      await repo.insertUser(ns, user("u2", "bob", "bob@example.com"), "h2");
      await repo.insertUser(other, user("u1", "carol", "carol@example.com"), "h3");
      await repo.insertSession(ns, session(ns, "live", "u1", 1_000, 5_000), "h");
      await repo.insertSession(ns, session(ns, "bob", "u2", 1_000, 3_000), "h2");
      await repo.insertSession(other, session(other, "theirs", "u1", 1_000, 5_000), "h3");
      const lookups: Array<[string, Buffer, number]> = [];
      for (let i = 0; i < 60; i++) {
        const now = 2_000 + (i % 4) * 700; // 2000, 2700, 3400 (bob's has ended), 4100
        const pick = i % 5;
        if (pick === 0) lookups.push([ns, sid(ns, "live"), now]);
        if (pick === 1) lookups.push([ns, sid(ns, "bob"), now]);
        if (pick === 2) lookups.push([ns, sid(other, "theirs"), now]); // another namespace's session
        if (pick === 3) lookups.push([other, sid(other, "theirs"), now]);
        if (pick === 4) lookups.push([ns, sid(ns, `unknown-${i}`), now]);
      }
      const alone = [];
      for (const [n, d, now] of lookups) alone.push(await repo.getSession(n, d, now));
      const together = await Promise.all(lookups.map(([n, d, now]) => repo.getSession(n, d, now)));
      expect(together).toEqual(alone);
      expect(alone.filter((s) => s !== undefined).length).toBeGreaterThan(20);
      expect(alone.some((s) => s === undefined)).toBe(true);

      const ids: Array<[string, string]> = [ns, other].flatMap((n) =>
        ["u1", "u2", "nobody"].map((id) => [n, id] as [string, string]),
      );
      const usersAlone = [];
      for (const [n, id] of ids) usersAlone.push(await repo.getUser(n, id));
      expect(await Promise.all(ids.map(([n, id]) => repo.getUser(n, id)))).toEqual(usersAlone);
      expect(await Promise.all(ids.map(([n, id]) => repo.findUser(n, { id })))).toEqual(usersAlone);
      expect(usersAlone.filter((u) => u !== undefined).map((u) => u?.username)).toEqual(["alice", "bob", "carol"]);
    });
  });

  describe("login throttle", () => {
    const policy: ThrottlePolicy = { maxFailures: 3, baseLockMs: 1_000, maxLockMs: 5_000 };

    test("counts failures; from the limit on, the lock doubles up to the cap", async () => {
      const ns = freshNamespace();
      expect(await repo.getLoginThrottle(ns, "username:alice")).toBeUndefined();
      // Each failure after the first lock comes when the previous lock has just ended.
      const at = [10_000, 10_001, 10_002, 11_002, 13_002, 17_002, 22_002];
      const results = [];
      for (const now of at) results.push(await fail(repo, ns, "username:alice", now, policy));
      expect(results).toEqual([
        { failures: 1, lockedUntilMs: 0 },
        { failures: 2, lockedUntilMs: 0 },
        { failures: 3, lockedUntilMs: 10_002 + 1_000 },
        { failures: 4, lockedUntilMs: 11_002 + 2_000 },
        { failures: 5, lockedUntilMs: 13_002 + 4_000 },
        { failures: 6, lockedUntilMs: 17_002 + 5_000 },
        { failures: 7, lockedUntilMs: 22_002 + 5_000 },
      ]);
    });

    test("slots: failures plus slots in use stay under the limit; locked and full are told apart", async () => {
      const ns = freshNamespace();
      const slot = (attempt: string, now = 1_000) =>
        repo.reserveLoginAttempt(ns, { accounts: ["username:bob"], attempt }, now, 60_000, policy);
      await fail(repo, ns, "username:bob", 1_000, policy);
      expect(await slot("a")).toEqual({ admitted: true });
      expect(await slot("b")).toEqual({ admitted: true });
      expect(await slot("c")).toEqual({ admitted: false, lockedUntilMs: 0 }); // full, not locked
      // Released without a failure (not checked): its slot is free again.
      await repo.endLoginAttempt(ns, { accounts: ["username:bob"], attempt: "a" }, false);
      expect(await slot("c")).toEqual({ admitted: true });
      // Failing turns slots into failures: at the limit the account locks and gives no slot.
      await repo.failLoginAttempt(ns, { accounts: ["username:bob"], attempt: "b" }, 1_000, policy);
      expect(await slot("d")).toEqual({ admitted: false, lockedUntilMs: 0 });
      await repo.failLoginAttempt(ns, { accounts: ["username:bob"], attempt: "c" }, 1_000, policy);
      expect(await repo.getLoginThrottle(ns, "username:bob")).toEqual({ failures: 3, lockedUntilMs: 2_000 });
      expect(await slot("d", 1_999)).toEqual({ admitted: false, lockedUntilMs: 2_000 });
      // Once the lock ends: one check at a time.
      expect(await slot("d", 2_000)).toEqual({ admitted: true });
      expect(await slot("e", 2_000)).toEqual({ admitted: false, lockedUntilMs: 0 });
      // A slot whose lease ran out (its replica died) frees itself.
      expect(await slot("e", 62_000)).toEqual({ admitted: true });
    });

    test("a reservation over several accounts is all or none", async () => {
      const ns = freshNamespace();
      const both = (attempt: string) =>
        repo.reserveLoginAttempt(ns, { accounts: ["email:b@x.co", "user:b"], attempt }, 1_000, 60_000, policy);
      for (let i = 0; i < 3; i++) await fail(repo, ns, "user:b", 1_000, policy); // locked by another identifier
      expect(await both("x")).toEqual({ admitted: false, lockedUntilMs: 2_000 });
      expect(
        await repo.reserveLoginAttempt(ns, { accounts: ["email:b@x.co"], attempt: "y" }, 1_000, 60_000, policy),
      ).toEqual({ admitted: true });
      // No failure counted (SQLite keeps no row for an account without failures; PostgreSQL locks one).
      const none = { failures: 0, lockedUntilMs: 0 };
      expect((await repo.getLoginThrottle(ns, "email:b@x.co")) ?? none).toEqual(none);
      // A failure counts in every account of the attempt.
      await repo.failLoginAttempt(ns, { accounts: ["email:b@x.co", "user:b"], attempt: "y" }, 3_000, policy);
      expect(await repo.getLoginThrottle(ns, "email:b@x.co")).toEqual({ failures: 1, lockedUntilMs: 0 });
      expect(await repo.getLoginThrottle(ns, "user:b")).toEqual({ failures: 4, lockedUntilMs: 5_000 });
    });

    test("a limit of one locks at the first failure; long runs stay capped", async () => {
      const ns = freshNamespace();
      const strict = { maxFailures: 1, baseLockMs: 1_000, maxLockMs: 900_000 };
      expect(await fail(repo, ns, "a", 0, strict)).toEqual({ failures: 1, lockedUntilMs: 1_000 });
      expect(await fail(repo, ns, "a", 1_000, strict)).toEqual({ failures: 2, lockedUntilMs: 3_000 });
      let last = { failures: 2, lockedUntilMs: 3_000 };
      for (let i = 0; i < 70; i++) last = (await fail(repo, ns, "a", last.lockedUntilMs, strict))!;
      const previousLock = last.lockedUntilMs - 900_000;
      expect(last).toEqual({ failures: 72, lockedUntilMs: previousLock + 900_000 });
    });

    test("the longest locks allowed by the settings never wrap around to no lock", async () => {
      const ns = freshNamespace();
      const day = 86_400_000;
      const longest = { maxFailures: 1, baseLockMs: day, maxLockMs: day };
      let now = 0;
      for (let i = 0; i < 70; i++) {
        const row = (await fail(repo, ns, "a", now, longest))!;
        expect(row.lockedUntilMs).toBe(now + day);
        now = row.lockedUntilMs;
      }
      const growing = { maxFailures: 1, baseLockMs: 9_000_000, maxLockMs: day };
      now = 0;
      for (let i = 0; i < 70; i++) {
        const row = (await fail(repo, ns, "b", now, growing))!;
        expect(row.lockedUntilMs - now).toBe(Math.min(day, 9_000_000 * 2 ** i));
        now = row.lockedUntilMs;
      }
    });

    test("a success forgets the account; counting starts again at one", async () => {
      const ns = freshNamespace();
      const ref = { accounts: ["email:a@b.co"], attempt: "ok" };
      for (let i = 0; i < 2; i++) await fail(repo, ns, "email:a@b.co", 1_000, policy);
      await repo.endLoginAttempt(ns, ref, true);
      await repo.endLoginAttempt(ns, ref, true);
      expect(await repo.getLoginThrottle(ns, "email:a@b.co")).toBeUndefined();
      expect(await fail(repo, ns, "email:a@b.co", 2_000, policy)).toEqual({ failures: 1, lockedUntilMs: 0 });
    });

    test("a burst of concurrent reservations gets exactly the limit's slots; failing them locks", async () => {
      const ns = freshNamespace();
      const refs = Array.from({ length: 20 }, (_, i) => ({
        accounts: ["username:target", "user:t"],
        attempt: `b${i}`,
      }));
      const results = await Promise.all(refs.map((ref) => repo.reserveLoginAttempt(ns, ref, 1_000, 60_000, policy)));
      const admitted = refs.filter((_, i) => results[i]!.admitted);
      expect(admitted).toHaveLength(3);
      await Promise.all(admitted.map((ref) => repo.failLoginAttempt(ns, ref, 1_000, policy)));
      expect(await repo.getLoginThrottle(ns, "username:target")).toEqual({ failures: 3, lockedUntilMs: 2_000 });
      expect(await repo.reserveLoginAttempt(ns, refs[19]!, 1_500, 60_000, policy)).toEqual({
        admitted: false,
        lockedUntilMs: 2_000,
      });
    });
  });

  describe("concurrency", () => {
    test("of N concurrent inserts with the same email, exactly one succeeds; the others name the email", async () => {
      const ns = freshNamespace();
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          outcome(repo.insertUser(ns, user(`id${i}`, `name${i}`, "same@example.com"), "h")),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      for (const r of results) {
        if (!r.ok) {
          expect(r.error).toBeInstanceOf(UniqueViolation);
          expect((r.error as UniqueViolation).field).toBe("email");
        }
      }
      expect(await repo.searchUsers(ns, { usernamePrefix: "", emailPrefix: "", limit: 100, offset: 0 })).toHaveLength(
        1,
      );
    });

    test("of N concurrent inserts with the same id or username, exactly one succeeds", async () => {
      const ns = freshNamespace();
      const byId = await Promise.all(
        Array.from({ length: 8 }, (_, i) => outcome(repo.insertUser(ns, user("same", `n${i}`, `${i}@x.co`), "h"))),
      );
      expect(byId.filter((r) => r.ok)).toHaveLength(1);
      expect(byId.filter((r) => !r.ok && (r.error as UniqueViolation).field === "id")).toHaveLength(7);
      const byName = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          outcome(repo.insertUser(ns, user(`other${i}`, "taken", `t${i}@x.co`), "h")),
        ),
      );
      expect(byName.filter((r) => r.ok)).toHaveLength(1);
      expect(byName.filter((r) => !r.ok && (r.error as UniqueViolation).field === "username")).toHaveLength(7);
    });

    test("once replacePasswordHash returned true, no session inserted against the old hash exists", async () => {
      const ns = freshNamespace();
      for (let round = 0; round < 25; round++) {
        const id = `u${round}`;
        await repo.insertUser(ns, user(id, `user${round}`, `user${round}@x.co`), "old");
        const logins = Array.from({ length: 6 }, (_, i) =>
          repo.insertSession(ns, session(ns, `${round}-${i}`, id, 1_000, 50_000), "old"),
        );
        // The replace starts in the middle of the logins, so the two race.
        const replaced = repo.replacePasswordHash(ns, id, "old", "new", 2_000);
        const more = Array.from({ length: 6 }, (_, i) =>
          repo.insertSession(ns, session(ns, `${round}-late-${i}`, id, 1_000, 50_000), "old"),
        );
        const [wasReplaced] = await Promise.all([replaced, ...logins, ...more]);
        expect(wasReplaced).toBe(true);
        expect(await repo.listSessions(ns, id, 2_000, 100)).toEqual([]);
        expect(await repo.getCredential(ns, id)).toMatchObject({ passwordHash: "new" });
      }
    });

    test("concurrent replacements from the same hash: exactly one wins", async () => {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("u1", "alice", "alice@x.co"), "old");
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => repo.replacePasswordHash(ns, "u1", "old", `new${i}`, 2_000)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await repo.getCredential(ns, "u1")).toMatchObject({ passwordHash: `new${results.indexOf(true)}` });
    });
  });
});

describe.each(ENGINES)("Repository contract, global state (%s)", (engine) => {
  describe("API keys", () => {
    let repo: Repository;
    beforeAll(async () => {
      repo = await freshRepository(engine);
    });
    afterAll(() => repo.close());

    test("insert, find by digest while not revoked, list, revoke", async () => {
      expect(await repo.listApiKeys()).toEqual([]);
      await repo.insertApiKey(apiKey("key_b", "acme", 2_000));
      await repo.insertApiKey(apiKey("key_a", null, 2_000));
      await repo.insertApiKey({ ...apiKey("key_c", "other", 1_000), label: "" });

      expect(await repo.findApiKey(digest("key:key_b"))).toEqual({
        id: "key_b",
        namespace: "acme",
        role: "service",
        label: "label key_b",
        createdMs: 2_000,
        revokedMs: null,
      });
      expect(await repo.findApiKey(digest("key:key_a"))).toMatchObject({ id: "key_a", namespace: null, role: "admin" });
      expect(await repo.findApiKey(digest("unknown"))).toBeUndefined();
      expect((await repo.listApiKeys()).map((k) => k.id)).toEqual(["key_c", "key_a", "key_b"]);
      expect((await repo.listApiKeys())[0]).toEqual({
        id: "key_c",
        namespace: "other",
        role: "service",
        label: "",
        createdMs: 1_000,
        revokedMs: null,
      });

      expect(await repo.revokeApiKey("key_b", 3_000)).toBe(true);
      expect(await repo.revokeApiKey("key_b", 4_000)).toBe(false);
      expect(await repo.revokeApiKey("nope", 4_000)).toBe(false);
      expect(await repo.findApiKey(digest("key:key_b"))).toBeUndefined();
      expect((await repo.listApiKeys()).find((k) => k.id === "key_b")).toMatchObject({ revokedMs: 3_000 });
    });

    test("a key's role is stored; a key without a namespace is admin whatever its role column says", async () => {
      await repo.insertApiKey({ ...apiKey("key_pub", "shop", 6_000), role: "public" });
      expect(await repo.findApiKey(digest("key:key_pub"))).toMatchObject({ role: "public", namespace: "shop" });
      const exported = (await repo.exportApiKeys()).find((k) => k.id === "key_pub");
      expect(exported).toMatchObject({ role: "public" });
      await repo.insertApiKey({ ...apiKey("key_odd", null, 6_000), role: "service" });
      expect(await repo.findApiKey(digest("key:key_odd"))).toMatchObject({ role: "admin" });
    });

    test("rate limits count up to the limit in a window, start again in a later one, per bucket", async () => {
      const charge = (bucket: string, window: number, limit = 3) => repo.chargeRateLimit(bucket, window, limit);
      // Five at once: exactly the limit count, in whatever order the connections run them.
      const burst = await Promise.all([1, 2, 3, 4, 5].map(() => charge("b1", 1_000)));
      expect(burst.filter((counted) => counted)).toHaveLength(3);
      expect(await charge("b2", 1_000)).toBe(true);
      // A replica with a clock behind counts in the current window, never resets it.
      expect(await charge("b1", 0)).toBe(false);
      expect(await charge("b1", 2_000)).toBe(true);
      expect(await charge("b1", 2_000, 1)).toBe(false);
      expect(await charge("b3", 2_000, 0)).toBe(false);
    });

    test("a key id or digest already there is refused", async () => {
      await repo.insertApiKey(apiKey("dup", null, 5_000));
      await expect(repo.insertApiKey({ ...apiKey("dup", null, 5_000), keyDigest: digest("fresh") })).rejects.toThrow();
      await expect(repo.insertApiKey({ ...apiKey("dup", null, 5_000), id: "dup2" })).rejects.toThrow();
      expect((await repo.listApiKeys()).filter((k) => k.id.startsWith("dup"))).toHaveLength(1);
    });

    test("export carries digests and revocations; import inserts what is missing, idempotently", async () => {
      const exported = await repo.exportApiKeys();
      expect(exported.map((k) => k.id)).toEqual((await repo.listApiKeys()).map((k) => k.id));
      expect(exported.find((k) => k.id === "key_b")).toMatchObject({
        revokedMs: 3_000,
        keyDigest: digest("key:key_b"),
      });

      const target = await freshRepository(engine);
      try {
        await target.insertApiKey(apiKey("key_a", null, 2_000));
        expect(await target.importApiKeys(exported)).toBe(exported.length - 1);
        expect(await target.importApiKeys(exported)).toBe(0);
        expect(await target.exportApiKeys()).toEqual(exported);
        expect(await target.findApiKey(digest("key:key_b"))).toBeUndefined();
        expect(await target.findApiKey(digest("key:key_c"))).toMatchObject({ id: "key_c" });
        expect(await target.importApiKeys([])).toBe(0);
      } finally {
        await target.close();
      }
    });
  });

  test("sweep removes expired sessions and stale, unlocked throttle rows, each up to the limit", async () => {
    const repo = await freshRepository(engine);
    try {
      const ns = freshNamespace();
      await repo.insertUser(ns, user("u1", "alice", "alice@x.co"), "h");
      for (let i = 0; i < 5; i++) await repo.insertSession(ns, session(ns, `gone${i}`, "u1", 0, 10_000 - i), "h");
      await repo.insertSession(ns, session(ns, "stays", "u1", 0, 10_001), "h");
      const policy = { maxFailures: 1, baseLockMs: 100_000, maxLockMs: 100_000 };
      const soft = { maxFailures: 10, baseLockMs: 1, maxLockMs: 1 };
      await fail(repo, ns, "stale-1", 1_000, soft);
      await fail(repo, ns, "stale-2", 1_000, soft);
      await fail(repo, ns, "stale-3", 1_000, soft);
      await fail(repo, ns, "recent", 5_000, soft); // updated at the stale boundary: kept
      await fail(repo, ns, "locked", 1_000, policy); // stale but locked until 101_000: kept

      // now = 10_000: sessions expiring at or before now go; throttle rows updated before 5_000 go.
      expect(await repo.sweep(10_000, 5_000, 2)).toBe(4); // 2 sessions + 2 throttle rows
      expect(await repo.sweep(10_000, 5_000, 2)).toBe(3); // 2 + 1
      expect(await repo.sweep(10_000, 5_000, 2)).toBe(1); // the last expired session
      expect(await repo.sweep(10_000, 5_000, 2)).toBe(0);
      expect((await repo.listSessions(ns, "u1", 0, 10)).map((s) => s.idDigest)).toEqual([sid(ns, "stays")]);
      expect(await repo.getLoginThrottle(ns, "stale-1")).toBeUndefined();
      expect(await repo.getLoginThrottle(ns, "recent")).toMatchObject({ failures: 1 });
      expect(await repo.getLoginThrottle(ns, "locked")).toMatchObject({ lockedUntilMs: 101_000 });
      // Once its lock ends, the stale locked row goes too.
      expect(await repo.sweep(101_000, 5_000, 10)).toBe(2); // "locked", and the session that expired at 10_001
      // Slots whose lease has run out go too.
      const slot = { accounts: ["recent"], attempt: "leased" };
      expect(await repo.reserveLoginAttempt(ns, slot, 200_000, 1, soft)).toEqual({ admitted: true });
      expect(await repo.sweep(200_000, 5_000, 10)).toBe(0);
      expect(await repo.sweep(200_001, 5_000, 10)).toBe(1);
    } finally {
      await repo.close();
    }
  });

  describe("export and import of users", () => {
    let source: Repository;
    let target: Repository;
    const exportAll = async (repo: Repository, pageSize: number) => {
      const pages: UserExport[][] = [];
      for await (const page of repo.exportUsers(pageSize)) pages.push(page);
      return pages;
    };

    beforeAll(async () => {
      [source, target] = await Promise.all([freshRepository(engine), freshRepository(engine)]);
      // Several namespaces, equal created times across page boundaries, ids in byte order.
      const rows: Array<[string, string, number]> = [
        ["b-ns", "x", 5],
        ["a-ns", "m", 2],
        ["a-ns", "B", 2],
        ["a-ns", "a", 2],
        ["a-ns", "z", 1],
        ["b-ns", "_", 5],
        ["c-ns", "only", 9],
      ];
      for (const [ns, id, created] of rows) {
        const username = `user-${id.toLowerCase()}${id === "B" ? "2" : ""}`;
        const row = { ...user(id, username, `${id}@${ns}.co`, created), updatedMs: created + 100 };
        await source.insertUser(ns, row, `hash-${ns}-${id}`);
      }
    });
    afterAll(async () => {
      await Promise.all([source.close(), target.close()]);
    });

    test("pages in (namespace, created, id) order, every user once, with its hash", async () => {
      const pages = await exportAll(source, 2);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 1]);
      expect(pages.flat().map((e) => `${e.namespace}/${e.user.id}`)).toEqual([
        "a-ns/z",
        "a-ns/B",
        "a-ns/a",
        "a-ns/m",
        "b-ns/_",
        "b-ns/x",
        "c-ns/only",
      ]);
      expect(pages[0]![1]).toEqual({
        namespace: "a-ns",
        user: { id: "B", username: "user-b2", email: "B@a-ns.co", createdMs: 2, updatedMs: 102 },
        passwordHash: "hash-a-ns-B",
      });
      expect((await exportAll(source, 1000)).flat()).toEqual(pages.flat());
      expect(await exportAll(source, 7)).toHaveLength(1);
      expect(await source.countUsers()).toBe(7);
    });

    test("import round trip: everything inserted once, then everything skipped", async () => {
      let inserted = 0;
      for (const page of await exportAll(source, 3)) inserted += (await target.importUsers(page)).inserted;
      expect(inserted).toBe(7);
      expect((await exportAll(target, 100)).flat()).toEqual((await exportAll(source, 100)).flat());
      expect(await target.findCredentialByUsername("a-ns", "user-z")).toMatchObject({ passwordHash: "hash-a-ns-z" });
      const again = (await exportAll(source, 100)).flat();
      expect(await target.importUsers(again)).toEqual({ inserted: 0, skipped: 7 });
      expect(await target.importUsers([])).toEqual({ inserted: 0, skipped: 0 });
    });

    test("a user clashing on id, username or email is skipped whole; duplicates within a batch too", async () => {
      const ns = freshNamespace();
      await target.insertUser(ns, user("taken", "taken", "taken@x.co"), "existing");
      const batch: UserExport[] = [
        { namespace: ns, user: user("taken", "fresh1", "fresh1@x.co"), passwordHash: "p1" },
        { namespace: ns, user: user("new2", "taken", "fresh2@x.co"), passwordHash: "p2" },
        { namespace: ns, user: user("new3", "fresh3", "taken@x.co"), passwordHash: "p3" },
        { namespace: ns, user: user("new4", "fresh4", "fresh4@x.co"), passwordHash: "p4" },
        { namespace: ns, user: user("new4", "fresh5", "fresh5@x.co"), passwordHash: "p5" },
      ];
      expect(await target.importUsers(batch)).toEqual({ inserted: 1, skipped: 4 });
      expect(await target.getCredential(ns, "taken")).toMatchObject({
        passwordHash: "existing",
        user: { username: "taken" },
      });
      expect(await target.getCredential(ns, "new4")).toMatchObject({
        passwordHash: "p4",
        user: { username: "fresh4" },
      });
      expect(await target.findCredentialByUsername(ns, "fresh1")).toBeUndefined();
    });

    test("a batch is one transaction: a failing row leaves none of the batch behind", async () => {
      const ns = freshNamespace();
      const broken = { ...user("bad", "bad", "bad@x.co"), username: null as unknown as string };
      const batch: UserExport[] = [
        { namespace: ns, user: user("good", "good", "good@x.co"), passwordHash: "p" },
        { namespace: ns, user: broken, passwordHash: "p" },
      ];
      await expect(target.importUsers(batch)).rejects.toThrow();
      expect(await target.getUser(ns, "good")).toBeUndefined();
      expect(await target.importUsers(batch.slice(0, 1))).toEqual({ inserted: 1, skipped: 0 });
    });
  });

  test("close is idempotent; calls after it fail as StorageUnavailable", async () => {
    const repo = await freshRepository(engine);
    await repo.close();
    await repo.close();
    await expect(repo.ping()).rejects.toBeInstanceOf(StorageUnavailable);
    await expect(repo.getUser("ns", "x")).rejects.toBeInstanceOf(StorageUnavailable);
  });
});
