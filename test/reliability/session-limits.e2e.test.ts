// Sessions per user are bounded, on the real port: beyond MAX_SESSIONS_PER_USER
// a login ends the user's oldest session, also when logins come at once; and
// deleting a user with very many sessions deletes them in batches, so the
// server answers other calls while it runs (a server in its own process, its
// database watched from this one).

import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import Database from "better-sqlite3";
import pg from "pg";
import { TestClock } from "../support/clock.js";
import { ENGINES, type Engine, freshDatabaseUrl } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rpc } from "./support/rpc.js";
import { startServerProcess } from "./support/server-process.js";
import { PROTOCOLS, Wire } from "./support/wire.js";

const PASSWORD = "correct-horse-1";
const CAP = 3;

describe.each(ENGINES)("sessions per user are capped (%s)", (engine) => {
  const clock = new TestClock();
  let t: TestServer;
  let wire: Wire;
  let headers: Record<string, string>;
  let n = 0;

  beforeAll(async () => {
    t = await startTestServer({ engine, now: clock.now, env: { MAX_SESSIONS_PER_USER: String(CAP) } });
    wire = new Wire(t.url);
    headers = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  async function newUser(): Promise<{ username: string; id: string }> {
    const username = `capped${++n}`;
    const created = await rpc(
      wire,
      "connect-json",
      "create",
      { username, email: `${username}@example.com`, password: PASSWORD },
      headers,
    );
    expect(created.code).toBe("ok");
    return { username, id: (created.json!.user as { id: string }).id };
  }
  const login = async (username: string, i = 0) => {
    const answer = await rpc(
      wire,
      PROTOCOLS[i % PROTOCOLS.length]!,
      "login",
      { username, password: PASSWORD },
      headers,
    );
    expect(answer.code).toBe("ok");
    return (answer.json!.session as { id: string }).id;
  };
  const live = async (ids: string[]) => {
    const answers = await Promise.all(
      ids.map((sessionId) => rpc(wire, "connect-json", "readSession", { sessionId }, headers)),
    );
    return ids.filter((_, i) => answers[i]!.code === "ok");
  };
  const listed = async (userId: string) =>
    ((await rpc(wire, "connect-json", "listSessions", { userId }, headers)).json!.sessions as unknown[]).length;

  test(`beyond ${CAP} sessions, each login ends the user's oldest`, async () => {
    const u = await newUser();
    const other = await newUser();
    const theirs = await login(other.username);
    const ids: string[] = [];
    for (let i = 0; i < CAP + 2; i++) {
      ids.push(await login(u.username, i));
      clock.advance(1);
    }
    expect(await live(ids)).toEqual(ids.slice(2));
    expect(await listed(u.id)).toBe(CAP);
    // Another user's session is not touched.
    expect(await live([theirs])).toEqual([theirs]);
  });

  test("logins at the same moment never leave more than the cap", async () => {
    const u = await newUser();
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => login(u.username, i)));
    expect(await live(ids)).toHaveLength(CAP);
    expect(await listed(u.id)).toBe(CAP);
  });
});

/** Reads how many sessions a user has, from outside the server process. */
async function sessionCounter(engine: Engine, databaseUrl: string) {
  if (engine === "sqlite") {
    const db = new Database(databaseUrl.slice("sqlite:".length));
    const count = db.prepare("SELECT count(*) AS n FROM sessions WHERE namespace = ? AND user_id = ?");
    return {
      db,
      count: async (ns: string, userId: string) => (count.get(ns, userId) as { n: number }).n,
      seed: async (ns: string, userId: string, total: number) => {
        db.prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
           INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
           SELECT randomblob(32), ?, ?, 1, 9000000000000 FROM n`,
        ).run(total, ns, userId);
      },
      close: async () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  return {
    count: async (ns: string, userId: string) =>
      Number(
        (await client.query("SELECT count(*) AS n FROM sessions WHERE namespace = $1 AND user_id = $2", [ns, userId]))
          .rows[0].n,
      ),
    seed: async (ns: string, userId: string, total: number) => {
      await client.query(
        `INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
         SELECT sha256(int4send(i)), $1, $2, 1, 9000000000000 FROM generate_series(1, $3::integer) AS i`,
        [ns, userId, total],
      );
    },
    close: () => client.end(),
  };
}

describe.each(ENGINES)("deleting a user with very many sessions (%s)", (engine) => {
  const SESSIONS = 100_000;
  const adminKey = "session-limits-admin-key-0123456789abcdef";

  test(`${SESSIONS} sessions go in batches: other calls are answered while they do`, async () => {
    const databaseUrl = await freshDatabaseUrl(engine);
    const server = await startServerProcess({
      DATABASE_URL: databaseUrl,
      BCRYPT_COST: "4",
      USERS_BOOTSTRAP_KEY: adminKey,
    });
    const wire = new Wire(server.url);
    const db = await sessionCounter(engine, databaseUrl);
    try {
      const headers = { authorization: `Bearer ${adminKey}` };
      const created = await rpc(
        wire,
        "connect-json",
        "create",
        { username: "hoarder", email: "hoarder@example.com", password: PASSWORD },
        headers,
      );
      const id = (created.json!.user as { id: string }).id;
      await db.seed("default", id, SESSIONS);
      expect(await db.count("default", id)).toBe(SESSIONS);

      let deleted = false;
      const deleting = rpc(wire, "connect-json", "delete", { id }, headers).finally(() => {
        deleted = true;
      });
      // Wait until part of the sessions is gone (one statement would never show that), then ask for health.
      let left = SESSIONS;
      while (!deleted && (left === SESSIONS || left === 0)) {
        left = await db.count("default", id);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect({ partial: left > 0 && left < SESSIONS }).toEqual({ partial: true });
      const health = await fetch(`${server.url}/healthz`);
      expect({ status: health.status, answeredWhileDeleting: !deleted }).toEqual({
        status: 200,
        answeredWhileDeleting: true,
      });
      expect((await deleting).code).toBe("ok");
      expect(await db.count("default", id)).toBe(0);
      expect((await rpc(wire, "connect-json", "read", { id }, headers)).code).toBe("not_found");
    } finally {
      await db.close();
      wire.close();
      await server.stop();
    }
  }, 120_000);
});
