// Crash durability: the server runs as its own process under a load of
// Creates and Logins, is killed with SIGKILL while calls are in flight, and is
// started again on the same database. Everything it acknowledged must still be
// there (each created user reads back and logs in; each returned session reads
// back), and nothing may be half-written (no user without its password row, no
// session without its user). Two kill-and-restart rounds per engine.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { inspectDatabase } from "./support/database-check.js";
import { rpc } from "./support/rpc.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";
import { type Protocol, Wire } from "./support/wire.js";

const ADMIN_KEY = `crash-admin-${"k".repeat(30)}`;
const WORKERS = 8;
/** Creates acknowledged before each kill. */
const CREATES_PER_ROUND = 150;
const ROUNDS = 2;
const HEADERS = { authorization: `Bearer ${ADMIN_KEY}`, "micro-namespace": "crash" };

interface AckedUser {
  id: string;
  username: string;
  email: string;
  password: string;
}
interface AckedSession {
  id: string;
  userId: string;
}

describe.each(ENGINES)("crash durability: SIGKILL under load, then restart (%s)", (engine) => {
  let databaseUrl: string;
  let server: ServerProcess | undefined;
  const users: AckedUser[] = [];
  const sessions: AckedSession[] = [];
  const figures: string[] = [];

  beforeAll(async () => {
    databaseUrl = await freshDatabaseUrl(engine);
  });
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  const start = () =>
    startServerProcess({ DATABASE_URL: databaseUrl, USERS_BOOTSTRAP_KEY: ADMIN_KEY, BCRYPT_COST: "4" });

  /**
   * Runs WORKERS loops of Create-then-Login until CREATES_PER_ROUND creates
   * were acknowledged, and kills the server at that moment, mid-load.
   * Returns how many calls were in flight when it was killed.
   */
  async function loadAndKill(round: number, target: ServerProcess): Promise<number> {
    const wire = new Wire(target.url);
    const goal = users.length + CREATES_PER_ROUND;
    let inFlight = 0;
    let inFlightAtKill = -1;
    const call = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
      inFlight++;
      try {
        return await work();
      } catch {
        return undefined; // the connection died with the server: not acknowledged
      } finally {
        inFlight--;
      }
    };
    const worker = async (w: number) => {
      for (let n = 0; inFlightAtKill < 0; n++) {
        const protocol: Protocol = n % 2 === 0 ? "connect-json" : "grpc";
        const user = {
          id: `r${round}-w${w}-${n}`,
          username: `r${round}w${w}n${n}`,
          email: `r${round}w${w}n${n}@example.com`,
          password: `password-${round}-${w}-${n}`,
        };
        const created = await call(() => rpc(wire, protocol, "create", user, HEADERS));
        if (!created || inFlightAtKill >= 0) return;
        expect(created.code).toBe("ok");
        users.push(user);
        if (users.length === goal) {
          // Killed now, while the other workers' calls are on their way.
          inFlightAtKill = inFlight;
          target.child.kill("SIGKILL");
          return;
        }
        const login = await call(() =>
          rpc(wire, protocol, "login", { username: user.username, password: user.password }, HEADERS),
        );
        if (!login || inFlightAtKill >= 0) return;
        expect(login.code).toBe("ok");
        sessions.push({ id: (login.json!.session as { id: string }).id, userId: user.id });
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    wire.close();
    expect(await target.exited).toEqual({ code: null, signal: "SIGKILL" });
    return inFlightAtKill;
  }

  /** Every acknowledged user reads back as created and logs in; every acknowledged session reads back. */
  async function verifyAcknowledged(target: ServerProcess): Promise<void> {
    const wire = new Wire(target.url);
    try {
      for (let i = 0; i < users.length; i += 16) {
        await Promise.all(
          users.slice(i, i + 16).map(async (u) => {
            const read = await rpc(wire, "connect-json", "read", { id: u.id }, HEADERS);
            expect({ id: u.id, code: read.code, user: read.json?.user }).toMatchObject({
              id: u.id,
              code: "ok",
              user: { id: u.id, username: u.username, email: u.email },
            });
            const login = await rpc(wire, "grpc", "login", { username: u.username, password: u.password }, HEADERS);
            expect({ id: u.id, code: login.code }).toEqual({ id: u.id, code: "ok" });
          }),
        );
      }
      for (let i = 0; i < sessions.length; i += 16) {
        await Promise.all(
          sessions.slice(i, i + 16).map(async (s) => {
            const read = await rpc(wire, "connect-json", "readSession", { sessionId: s.id }, HEADERS);
            expect({
              code: read.code,
              userId: (read.json?.session as { userId?: string } | undefined)?.userId,
            }).toEqual({ code: "ok", userId: s.userId });
          }),
        );
      }
    } finally {
      wire.close();
    }
  }

  test(`${ROUNDS} rounds: every acknowledged Create and Login survives SIGKILL mid-load; nothing is half-written`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      server = await start();
      const inFlight = await loadAndKill(round, server);
      // Some calls must have been cut: otherwise this was no crash mid-load.
      expect(inFlight).toBeGreaterThan(0);
      server = await start();
      await verifyAcknowledged(server);
      figures.push(
        `round ${round}: killed with ${inFlight} calls in flight; ${users.length} creates and ${sessions.length} logins acknowledged so far, all verified after restart`,
      );
      expect(await server.stop()).toEqual({ code: 0, signal: null });
      server = undefined;
    }
    const report = await inspectDatabase(databaseUrl);
    expect(report.problems).toEqual([]);
    // Calls cut by a kill may or may not have been stored, but only whole.
    const stored = new Set(report.users.map((u) => u.id));
    expect(users.filter((u) => !stored.has(u.id))).toEqual([]);
    console.log(
      `crash durability (${engine}): ${users.length} creates and ${sessions.length} logins acknowledged across ${ROUNDS} SIGKILLs, ` +
        `all ${users.length + sessions.length} verified after restart; ${report.users.length} users stored, none half-written\n  ` +
        figures.join("\n  "),
    );
  }, 120_000);
});
