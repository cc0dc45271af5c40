// SQLite-only behaviour, as PostgreSQL has its own in postgres.test.ts: the
// modes of the files that hold every hash, the plans Search's queries really
// get from SQLite, and the group flush of the WAL.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import Database from "better-sqlite3";
import { SqliteRepository } from "../../src/storage/sqlite/sqlite-repository.js";
import { SqliteUserSearch } from "../../src/storage/sqlite/user-search.js";
import { WalSync } from "../../src/storage/sqlite/wal-sync.js";
import { tempDir } from "../support/databases.js";
import { user } from "./fixtures.js";

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe("sqlite: files readable by their owner only", () => {
  test("a new folder is 0700 and the database, WAL and SHM files 0600, whatever the umask", async () => {
    const previous = process.umask(0o022);
    try {
      const dir = path.join(tempDir(), "nested", "data");
      const file = path.join(dir, "users.db");
      const repo = new SqliteRepository(file);
      await repo.insertUser("ns", user("u1", "ann", "ann@x.co"), "$2b$04$hash");
      expect(mode(dir)).toBe(0o700);
      expect(mode(path.dirname(dir))).toBe(0o700);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect({ f, mode: mode(f) }).toEqual({ f, mode: 0o600 });
      await repo.close();

      // SQLite makes the WAL again on the next open (the CLI, another process) with the database's mode.
      fs.rmSync(`${file}-wal`, { force: true });
      fs.rmSync(`${file}-shm`, { force: true });
      const again = new SqliteRepository(file);
      await again.insertUser("ns", user("u2", "bob", "bob@x.co"), "$2b$04$hash");
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect({ f, mode: mode(f) }).toEqual({ f, mode: 0o600 });
      await again.close();
      expect(process.umask()).toBe(0o022);
    } finally {
      process.umask(previous);
    }
  });

  test("an existing folder keeps its mode", async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const repo = new SqliteRepository(path.join(dir, "users.db"));
    await repo.close();
    expect(mode(dir)).toBe(0o755);
  });
});

describe("sqlite: Search's queries get the plans their step names", () => {
  const file = path.join(tempDir(), "plans.db");
  let repo: SqliteRepository;
  const seen = new Map<string, Record<string, unknown>>();

  beforeAll(async () => {
    repo = new SqliteRepository(file);
    await repo.importUsers(
      Array.from({ length: 300 }, (_, i) => ({
        namespace: "ns",
        user: user(`id${i}`, `${i % 2 ? "b" : "a"}${i}`, `${i % 2 ? "y" : "x"}${i}@x.co`, 1_000 + i),
        passwordHash: "h",
      })),
    );
    // The same searcher the repository uses, on a connection that records each statement and its values.
    const db = new Database(file);
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => {
      const stmt = prepare(sql);
      const all = stmt.all.bind(stmt);
      stmt.all = ((values: Record<string, unknown>) => {
        seen.set(sql, values);
        return all(values);
      }) as typeof stmt.all;
      return stmt;
    }) as typeof db.prepare;
    const search = new SqliteUserSearch(db, 40, async (work) => work());
    const q = { usernamePrefix: "", emailPrefix: "", limit: 10, offset: 0 };
    await search.run("ns", { ...q, usernamePrefix: "a12" }); // range
    await search.run("ns", { ...q, usernamePrefix: "a" }); // bounded walk
    await search.run("ns", { ...q, offset: 20 }); // walk
    await search.run("ns", { ...q, emailPrefix: "y", offset: 25 }).catch(() => {}); // counts to 41, refusal
    db.close();
  });
  afterAll(async () => {
    await repo?.close();
  });

  const plans = () =>
    [...seen].map(([sql, values]) => {
      const db = new Database(file, { readonly: true });
      try {
        const lines = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(values) as Array<{ detail: string }>).map(
          (r) => r.detail,
        );
        return { sql: sql.replace(/\s+/g, " "), lines };
      } finally {
        db.close();
      }
    });

  test("every statement searches an index by namespace, never scans the users table", () => {
    expect(seen.size).toBeGreaterThanOrEqual(5);
    for (const { sql, lines } of plans()) {
      expect({ sql, lines }).toEqual({ sql, lines: expect.arrayContaining([expect.stringMatching(/namespace=\?/)]) });
      for (const line of lines)
        expect({ sql, line }).not.toEqual({ sql, line: expect.stringMatching(/^SCAN (users|u)\b/) });
    }
  });

  test("counts read the prefix's unique index, ranges its ordered index, walks the creation-order index", () => {
    const byStep = plans();
    const uses = (pattern: RegExp, index: string) => {
      const matching = byStep.filter((p) => pattern.test(p.sql));
      expect(matching.length).toBeGreaterThan(0);
      for (const p of matching) expect(p.lines.join("\n")).toContain(`COVERING INDEX ${index} (namespace=?`);
    };
    uses(/count\(\*\).*INDEXED BY users_username /, "users_username");
    uses(/count\(\*\).*INDEXED BY users_email /, "users_email");
    uses(/INDEXED BY users_username_order/, "users_username_order");
    uses(/INDEXED BY users_created_names/, "users_created_names");
  });

  test("the page drives the join: its rows are fetched by primary key, never the other way round", () => {
    for (const { sql, lines } of plans().filter((p) => /JOIN users u/.test(p.sql))) {
      expect({ sql, lines }).toEqual({
        sql,
        lines: expect.arrayContaining(["SCAN page", "SEARCH u USING PRIMARY KEY (namespace=? AND id=?)"]),
      });
    }
  });

  test("the bounded walk and the counts stop at their LIMIT", () => {
    const limited = [...seen].filter(([sql]) =>
      /INDEXED BY users_created_names[\s\S]*LIMIT @window|LIMIT @cap/.test(sql),
    );
    expect(limited.length).toBeGreaterThanOrEqual(2);
    for (const [, values] of limited)
      expect(Math.max(Number(values.window ?? 0), Number(values.cap ?? 0))).toBeLessThanOrEqual(41);
  });
});

describe("sqlite: WalSync", () => {
  test("concurrent writers share flushes: twenty syncs at once cost at most two fdatasyncs", async () => {
    const file = path.join(tempDir(), "wal");
    fs.writeFileSync(file, "x");
    const probe = await fs.promises.open(file, "r");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const original = proto.datasync;
    let flushes = 0;
    proto.datasync = function (this: unknown) {
      flushes++;
      return original.call(this);
    };
    try {
      const sync = new WalSync(file);
      await Promise.all(Array.from({ length: 20 }, () => sync.sync()));
      expect(flushes).toBeGreaterThanOrEqual(1);
      expect(flushes).toBeLessThanOrEqual(2);
      // One more after they all settled: a write made now needs a flush of its own.
      await sync.sync();
      expect(flushes).toBeLessThanOrEqual(3);
      await sync.close();
    } finally {
      proto.datasync = original;
    }
  });

  test("a Login's reservation waits for no flush of its own: the session's commit flushes both", async () => {
    const probe = await fs.promises.open(path.join(tempDir(), "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const original = proto.datasync;
    let flushes = 0;
    proto.datasync = function (this: unknown) {
      flushes++;
      return original.call(this);
    };
    const repo = new SqliteRepository(path.join(tempDir(), "login.db"));
    try {
      await repo.insertUser("ns", user("u1", "ann", "ann@x.co"), "h");
      const attempt = { accounts: ["username:ann"], attempt: "a1" };
      const policy = { maxFailures: 5, baseLockMs: 1_000, maxLockMs: 60_000 };
      flushes = 0;
      expect(await repo.reserveLoginAttempt("ns", attempt, 1_000, 60_000, policy)).toEqual({ admitted: true });
      expect(flushes).toBe(0);
      const row = { idDigest: Buffer.alloc(32, 1), userId: "u1", createdMs: 1_000, expiresMs: 9_000 };
      expect(await repo.insertSession("ns", row, "h", { endsAttempt: attempt })).toBe(true);
      expect(flushes).toBe(1);
      // A wrong password's failure is flushed before its answer, covering the reservation too.
      flushes = 0;
      await repo.reserveLoginAttempt("ns", { ...attempt, attempt: "a2" }, 2_000, 60_000, policy);
      await repo.failLoginAttempt("ns", { ...attempt, attempt: "a2" }, 2_000, policy);
      expect(flushes).toBe(1);
    } finally {
      proto.datasync = original;
      await repo.close();
    }
  });
});
