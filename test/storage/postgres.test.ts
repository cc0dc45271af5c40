// PostgreSQL-only behaviour: concurrent starts, collation, timeouts, pool
// exhaustion, and recovery when connections die. Everything here is real
// server behaviour (locks held from an admin connection, pg_terminate_backend,
// a TCP proxy that stops answering), with no hooks into the engine.

import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import pg from "pg";
import { POSTGRES_MIGRATIONS } from "../../src/storage/postgres/migrations.js";
import { PostgresRepository } from "../../src/storage/postgres/postgres-repository.js";
import { StorageUnavailable, type User } from "../../src/storage/repository.js";
import { freshDatabaseUrl } from "../support/databases.js";
import { outcome, session, user } from "./fixtures.js";
import { TcpProxy } from "./tcp-proxy.js";

const adminUrl = process.env.USERS_TEST_POSTGRES_URL;
const describePostgres = adminUrl ? describe : describe.skip;

const options = { poolSize: 4, statementTimeoutMs: 5_000 };
/** Small enough that timeout tests are quick, large enough that a loaded machine still connects in time. */
const SHORT_TIMEOUT_MS = 400;

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** The error a promise was rejected with; fails the test if it resolved. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  const result = await outcome(promise);
  if (result.ok) throw new Error("expected the call to fail");
  return result.error;
}

function expectUnavailable(err: unknown, timedOut: boolean): void {
  expect(err).toBeInstanceOf(StorageUnavailable);
  expect((err as StorageUnavailable).timedOut).toBe(timedOut);
}

/** Retries `work` until it succeeds; every failure on the way must be a clean StorageUnavailable. */
async function eventually<T>(work: () => Promise<T>, attempts = 100): Promise<T> {
  for (let i = 1; ; i++) {
    const result = await outcome(work());
    if (result.ok) return result.value;
    expect(result.error).toBeInstanceOf(StorageUnavailable);
    if (i >= attempts) throw result.error;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
}

const sample: User = user("u1", "alice", "alice@example.com");

describePostgres("PostgreSQL engine", () => {
  describe("start", () => {
    test("replicas starting at once on an empty database apply each migration exactly once", async () => {
      const url = await freshDatabaseUrl("postgres");
      const replicas = await Promise.all(Array.from({ length: 4 }, () => PostgresRepository.open(url, options)));
      const admin = await connect(url);
      try {
        const { rows } = await admin.query("SELECT version, name FROM schema_migrations ORDER BY version");
        expect(rows).toEqual(POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
        const before = await admin.query("SELECT applied_ms FROM schema_migrations");
        // A later start finds everything applied and changes nothing.
        const late = await PostgresRepository.open(url, options);
        expect((await admin.query("SELECT applied_ms FROM schema_migrations")).rows).toEqual(before.rows);
        await replicas[0]!.insertUser("ns", sample, "h");
        expect(await late.getUser("ns", "u1")).toEqual(sample);
        for (const repo of [...replicas, late]) await repo.ping();
        await Promise.all([...replicas, late].map((r) => r.close()));
      } finally {
        await admin.end();
      }
    });

    test("an unreachable database fails the start with StorageUnavailable, never showing the password", async () => {
      const url = new URL(adminUrl!);
      url.username = "someone";
      url.password = "s3cret-Pa55word";
      url.hostname = "127.0.0.1";
      url.port = "1"; // nothing listens there
      const err = await failure(PostgresRepository.open(url.toString(), options));
      expectUnavailable(err, false);
      const seen = [err, (err as Error).cause].map((e) => `${String(e)} ${(e as Error).stack ?? ""}`).join(" ");
      expect(seen).not.toContain("s3cret-Pa55word");
    });

    test("int8 columns come back as numbers without changing pg's global parsers", async () => {
      const url = await freshDatabaseUrl("postgres");
      const repo = await PostgresRepository.open(url, options);
      const admin = await connect(url);
      try {
        const big = { ...sample, createdMs: 4_102_444_800_123, updatedMs: 4_102_444_800_456 };
        await repo.insertUser("ns", big, "h");
        expect(await repo.getUser("ns", "u1")).toEqual(big);
        expect(typeof (await repo.countUsers())).toBe("number");
        // Other code using pg still gets int8 as strings, pg's default.
        expect((await admin.query("SELECT 4102444800123::int8 AS n")).rows[0].n).toBe("4102444800123");
      } finally {
        await Promise.all([admin.end(), repo.close()]);
      }
    });
  });

  describe("collation", () => {
    test('every text column is COLLATE "C"', async () => {
      const url = await freshDatabaseUrl("postgres");
      const repo = await PostgresRepository.open(url, options);
      const admin = await connect(url);
      try {
        const { rows } = await admin.query(
          `SELECT c.table_name || '.' || c.column_name AS col, c.collation_name
           FROM information_schema.columns c
           WHERE c.table_schema = 'public' AND c.data_type = 'text' AND c.table_name <> 'schema_migrations'`,
        );
        expect(rows.length).toBeGreaterThanOrEqual(14);
        expect(rows.filter((r) => r.collation_name !== "C")).toEqual([]);
      } finally {
        await Promise.all([admin.end(), repo.close()]);
      }
    });

    test("in a database whose default collation is natural-language (ICU en-US), order and prefixes stay by code point", async () => {
      const name = `t_icu_${randomBytes(6).toString("hex")}`;
      const admin = await connect(adminUrl!);
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`);
      } finally {
        await admin.end();
      }
      const url = new URL(adminUrl!);
      url.pathname = `/${name}`;
      const repo = await PostgresRepository.open(url.toString(), options);
      try {
        for (const [i, id] of ["b", "a", "_", "Z", "-", "B"].entries()) {
          await repo.insertUser("ns", user(id, `user${i}`, `${id}@x.co`, 1), "h");
        }
        const all = { usernamePrefix: "", emailPrefix: "", limit: 100, offset: 0 };
        // en-US would give "_ - a b B Z"; code point order is "- B Z _ a b".
        expect((await repo.searchUsers("ns", all)).map((u) => u.id)).toEqual(["-", "B", "Z", "_", "a", "b"]);
        // In en-US "B@" sorts between "b" and "c"; by code point it is outside ["b", "c").
        expect((await repo.searchUsers("ns", { ...all, emailPrefix: "b" })).map((u) => u.id)).toEqual(["b"]);
        expect((await repo.searchUsers("ns", { ...all, emailPrefix: "B" })).map((u) => u.id)).toEqual(["B"]);
        const pages = [];
        for await (const page of repo.exportUsers(2)) pages.push(...page.map((e) => e.user.id));
        expect(pages).toEqual(["-", "B", "Z", "_", "a", "b"]);
      } finally {
        await repo.close();
      }
    });

    test("a prefix range on username is served by an index on (namespace, username)", async () => {
      const url = await freshDatabaseUrl("postgres");
      const repo = await PostgresRepository.open(url, options);
      const admin = await connect(url);
      try {
        const batch = Array.from({ length: 2_000 }, (_, i) => ({
          namespace: `ns${i % 4}`,
          user: user(`id${i}`, `user${i}`, `user${i}@x.co`, i),
          passwordHash: "h",
        }));
        await repo.importUsers(batch);
        await admin.query("ANALYZE users");
        const plan = await admin.query(
          `EXPLAIN (FORMAT JSON) SELECT id FROM users
           WHERE namespace = $1 AND username >= $2 AND username < $3 ORDER BY created_ms, id LIMIT 25`,
          ["ns1", "user12", "user13"],
        );
        // Either index that starts with (namespace, username): the unique one, or the search's ordered one (migration 30).
        expect(JSON.stringify(plan.rows[0]["QUERY PLAN"])).toMatch(/"Index Name":"users_username(_order)?"/);
      } finally {
        await Promise.all([admin.end(), repo.close()]);
      }
    });
  });

  describe("timeouts", () => {
    let url: string;
    let repo: PostgresRepository;
    let admin: pg.Client;
    beforeAll(async () => {
      url = await freshDatabaseUrl("postgres");
      repo = await PostgresRepository.open(url, { poolSize: 2, statementTimeoutMs: SHORT_TIMEOUT_MS });
      admin = await connect(url);
      await repo.insertUser("ns", sample, "h");
    });
    afterAll(async () => {
      await Promise.all([admin.end(), repo.close()]);
    });

    /** Runs `work` while the admin connection holds `lockSql` in an open transaction. */
    async function whileLocked<T>(lockSql: string, work: () => Promise<T>): Promise<T> {
      await admin.query("BEGIN");
      try {
        await admin.query(lockSql);
        return await work();
      } finally {
        await admin.query("ROLLBACK");
      }
    }

    test("a statement that outlasts statement_timeout is StorageUnavailable, timed out", async () => {
      const err = await whileLocked("LOCK TABLE users IN ACCESS EXCLUSIVE MODE", () =>
        failure(repo.getUser("ns", "u1")),
      );
      expectUnavailable(err, true);
      expect(((err as Error).cause as pg.DatabaseError).code).toBe("57014");
      // The connection was fine all along, and so is the next call.
      expect(await repo.getUser("ns", "u1")).toEqual(sample);
    });

    test("a transaction that times out is rolled back and its connection reused", async () => {
      const lockRow = "SELECT 1 FROM passwords WHERE namespace = 'ns' AND user_id = 'u1' FOR UPDATE";
      expectUnavailable(
        await whileLocked(lockRow, () => failure(repo.replacePasswordHash("ns", "u1", "h", "new", 2_000))),
        true,
      );
      expectUnavailable(
        await whileLocked(lockRow, () => failure(repo.insertSession("ns", session("ns", "s", "u1", 1, 10), "h"))),
        true,
      );
      expect(await repo.getCredential("ns", "u1")).toMatchObject({ passwordHash: "h" });
      expect(await repo.replacePasswordHash("ns", "u1", "h", "new", 2_000)).toBe(true);
      expect(await repo.insertSession("ns", session("ns", "s", "u1", 1, 10), "new")).toBe(true);
    });
  });

  describe("a server that stops answering", () => {
    test("with the only pooled connection stuck, the next call fails waiting for the pool; both fail timed out, then recover", async () => {
      const url = await freshDatabaseUrl("postgres");
      const proxy = await TcpProxy.start(url);
      const repo = await PostgresRepository.open(proxy.url(url), { poolSize: 1, statementTimeoutMs: SHORT_TIMEOUT_MS });
      try {
        await repo.insertUser("ns", sample, "h");
        proxy.blackhole = true;
        const stuck = failure(repo.getCredential("ns", "u1")); // takes the only connection; no answer ever comes
        // A statement of its own: it waits for that connection.
        const waiting = failure(repo.getUser("ns", "u1"));
        const waitErr = await waiting;
        expectUnavailable(waitErr, true);
        expect(((waitErr as Error).cause as Error).message).toBe("timeout exceeded when trying to connect");
        // The stuck call gives up by itself (client-side read timeout), and its connection is discarded.
        const stuckErr = await stuck;
        expectUnavailable(stuckErr, true);
        expect(((stuckErr as Error).cause as Error).message).toBe("Query read timeout");
        // A new connection cannot be set up either while the server is silent.
        expectUnavailable(await failure(repo.ping()), true);
        proxy.blackhole = false;
        expect(await eventually(() => repo.getUser("ns", "u1"))).toEqual(sample);
      } finally {
        await repo.close();
        await proxy.close();
      }
    });
  });

  describe("connections that die", () => {
    let url: string;
    let repo: PostgresRepository;
    let admin: pg.Client;
    beforeAll(async () => {
      url = await freshDatabaseUrl("postgres");
      repo = await PostgresRepository.open(url, options);
      admin = await connect(url);
      await repo.insertUser("ns", sample, "h");
    });
    afterAll(async () => {
      await Promise.all([admin.end(), repo.close()]);
    });

    const terminateOthers = () =>
      admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [new URL(url).pathname.slice(1)],
      );

    async function fillPool(): Promise<void> {
      // Several calls at once, so several connections sit idle in the pool.
      await Promise.all(Array.from({ length: options.poolSize * 2 }, () => repo.getUser("ns", "u1")));
    }

    test("idle connections terminated by the server: calls fail cleanly or succeed, and soon all succeed", async () => {
      await fillPool();
      const { rowCount } = await terminateOthers();
      expect(rowCount).toBeGreaterThan(0);
      // Straight away, without waiting for the pool to notice.
      const immediate = await Promise.all(Array.from({ length: 6 }, () => outcome(repo.getUser("ns", "u1"))));
      for (const r of immediate) {
        if (r.ok) expect(r.value).toEqual(sample);
        else expectUnavailable(r.error, false);
      }
      expect(await eventually(() => repo.getUser("ns", "u1"))).toEqual(sample);
      await eventually(() => repo.insertSession("ns", session("ns", "after-kill", "u1", 1, 10), "h"));
      await repo.ping();
    });

    test("a call in flight when its connection is terminated fails as StorageUnavailable", async () => {
      await admin.query("BEGIN");
      let err: unknown;
      try {
        await admin.query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
        const call = failure(repo.getUser("ns", "u1"));
        // Wait until the call is waiting on the lock, then terminate it.
        await waitFor(async () => {
          const { rows } = await admin.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = $1",
            [new URL(url).pathname.slice(1)],
          );
          return rows[0].n > 0;
        });
        await terminateOthers();
        err = await call;
      } finally {
        await admin.query("ROLLBACK");
      }
      expectUnavailable(err, false);
      expect(await eventually(() => repo.getUser("ns", "u1"))).toEqual(sample);
    });

    test("the network cut and the server refusing for a while: clean failures, then recovery without reopening", async () => {
      const proxy = await TcpProxy.start(url);
      const viaProxy = await PostgresRepository.open(proxy.url(url), options);
      try {
        await Promise.all(Array.from({ length: 4 }, () => viaProxy.getUser("ns", "u1")));
        proxy.refusing = true;
        proxy.cutAll();
        for (let i = 0; i < 5; i++) {
          const r = await outcome(viaProxy.getUser("ns", "u1"));
          if (!r.ok) expectUnavailable(r.error, false);
        }
        expectUnavailable(await failure(viaProxy.ping()), false);
        proxy.refusing = false;
        expect(await eventually(() => viaProxy.getUser("ns", "u1"))).toEqual(sample);
        await viaProxy.ping();
      } finally {
        await viaProxy.close();
        await proxy.close();
      }
    });
  });
});
