// Deliveries survive a SIGKILL of the server mid-batch: after a restart on
// the same database every event reaches the receiver, none lost, each user's
// in order, duplicates only with the same webhook-id. And two replicas on one
// PostgreSQL deliver each event once.
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { startServerProcess } from "../reliability/support/server-process.js";
import { Wire } from "../reliability/support/wire.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { Receiver, until, webhooksRpc } from "./receiver.js";
import { storedEvents } from "./support.js";

const ADMIN_KEY = "webhooks-crash-admin-key-0123456789abcdef";
const receivers: Receiver[] = [];
afterAll(async () => {
  for (const r of receivers) await r.stop();
});

async function serverEnv(engine: (typeof ENGINES)[number]) {
  return {
    DATABASE_URL: await freshDatabaseUrl(engine),
    BCRYPT_COST: "4",
    USERS_BOOTSTRAP_KEY: ADMIN_KEY,
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_SECRET_KEY: randomBytes(32).toString("base64"),
    WEBHOOK_TIMEOUT_SECONDS: "1",
    WEBHOOK_RETRY_BASE_MS: "50",
    PG_POOL_SIZE: "4",
  };
}

/** Users with a few updates each, made through `urls` in turn; returns the user ids. */
async function makeEvents(urls: string[], users: number, updates: number): Promise<string[]> {
  const wires = urls.map((u) => new Wire(u));
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, "micro-namespace": "crash" };
  const ids: string[] = [];
  try {
    for (let u = 0; u < users; u++) {
      const made = await rpc(
        wires[u % wires.length]!,
        "connect-json",
        "create",
        { username: `c${u}`, email: `c${u}@example.com`, password: "password-1" },
        admin,
      );
      ids.push((made.json!.user as { id: string }).id);
    }
    for (let i = 0; i < updates; i++) {
      await Promise.all(
        ids.map((id, u) =>
          rpc(wires[(u + i) % wires.length]!, "connect-json", "update", { id, username: `c${u}v${i}` }, admin),
        ),
      );
    }
  } finally {
    for (const w of wires) w.close();
  }
  return ids;
}

function expectEveryEventInOrder(receiver: Receiver, stored: Awaited<ReturnType<typeof storedEvents>>, ids: string[]) {
  for (const id of ids) {
    const mine = stored.filter((e) => e.user_id === id).map((e) => `msg_${e.id}`);
    expect(receiver.ofUser(id).map((r) => r.id)).toEqual(mine);
  }
  // A duplicate is the same message again: same id, same body.
  const bodies = new Map<string, string>();
  for (const r of receiver.received) {
    const before = bodies.get(r.id);
    if (before !== undefined) expect(JSON.parse(r.raw)).toEqual(JSON.parse(before));
    bodies.set(r.id, r.raw);
  }
  expect(receiver.forged).toEqual([]);
}

describe.each(ENGINES)("webhook deliveries across a crash (%s)", (engine) => {
  test("SIGKILL mid-batch: after a restart every event arrives, in order per user, duplicates only by webhook-id", async () => {
    const env = await serverEnv(engine);
    const receiver = new Receiver();
    receivers.push(receiver);
    const url = await receiver.start();
    // Slow answers: the kill lands while deliveries are in flight (received, not yet answered).
    receiver.delayMs = 150;
    const first = await startServerProcess(env);
    try {
      const created = await webhooksRpc(first.url, "CreateWebhook", { namespace: "crash", url }, ADMIN_KEY);
      receiver.secret = String(created.json.secret);
      const ids = await makeEvents([first.url], 6, 5);
      await until("some deliveries", () => receiver.received.length >= 3);
      await first.stop("SIGKILL");
      const delivered = new Set(receiver.received.map((r) => r.id)).size;
      const stored = (await storedEvents(env.DATABASE_URL)).filter((e) => e.namespace === "crash");
      expect(delivered).toBeLessThan(stored.length);
      const second = await startServerProcess(env);
      try {
        await until("every event", () => new Set(receiver.received.map((r) => r.id)).size === stored.length, 40_000);
        expectEveryEventInOrder(receiver, stored, ids);
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop("SIGKILL");
    }
  });
});

const postgresOnly = ENGINES.includes("postgres") ? describe : describe.skip;

postgresOnly("two replicas on one PostgreSQL", () => {
  test("deliver each event exactly once, each user's in order", async () => {
    const env = await serverEnv("postgres");
    const receiver = new Receiver();
    receivers.push(receiver);
    const url = await receiver.start();
    const replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    try {
      const created = await webhooksRpc(replicas[0]!.url, "CreateWebhook", { namespace: "crash", url }, ADMIN_KEY);
      receiver.secret = String(created.json.secret);
      const ids = await makeEvents(
        replicas.map((r) => r.url),
        8,
        6,
      );
      const stored = (await storedEvents(env.DATABASE_URL)).filter((e) => e.namespace === "crash");
      await until("every event", () => receiver.received.length >= stored.length, 40_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.received.length).toBe(stored.length);
      expectEveryEventInOrder(receiver, stored, ids);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });
});
