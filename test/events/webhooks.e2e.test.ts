// Webhooks end to end, on both engines: a real HTTP receiver verifies every
// delivery's Standard Webhooks signature; a user's events arrive in order;
// a receiver that is down then up gets everything, in order, duplicates only
// with the same webhook-id; type filters; an endpoint failing past the bound
// is disabled and ListWebhooks says why; the secret is shown once and never
// stored in clear.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { Receiver, until, webhooksRpc } from "./receiver.js";
import { ok, storedEvents } from "./support.js";

describe.each(ENGINES)("webhooks (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  const receivers: Receiver[] = [];
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({
      engine,
      env: {
        WEBHOOK_ALLOW_PRIVATE: "true",
        WEBHOOK_RETRY_BASE_MS: "40",
        WEBHOOK_MAX_ATTEMPTS: "30",
        WEBHOOK_DISABLE_AFTER: "5",
        WEBHOOK_TIMEOUT_SECONDS: "2",
        WEBHOOK_SECRET_KEY: randomBytes(32).toString("base64"),
      },
    });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
    for (const r of receivers) await r.stop();
  });

  async function endpoint(namespace: string, events: string[] = []): Promise<{ receiver: Receiver; id: string }> {
    const receiver = new Receiver();
    receivers.push(receiver);
    const url = await receiver.start();
    const created = await webhooksRpc(t.url, "CreateWebhook", { namespace, url, events }, t.adminKey);
    expect(created.status).toBe(200);
    receiver.secret = String(created.json.secret);
    expect(receiver.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    secrets.push(receiver.secret);
    return { receiver, id: String((created.json.webhook as { id: string }).id) };
  }

  async function user(namespace: string, name: string): Promise<string> {
    const h = { ...admin, "micro-namespace": namespace };
    const made = await ok(
      wire,
      "grpc",
      "create",
      { username: name, email: `${name}@example.com`, password: "password-1" },
      h,
    );
    return (made.json!.user as { id: string }).id;
  }

  test("every event of the namespace arrives signed, in order, with the event as payload", async () => {
    const { receiver } = await endpoint("hooks-a");
    const h = { ...admin, "micro-namespace": "hooks-a" };
    const id = await user("hooks-a", "wa");
    await ok(wire, "connect-json", "login", { username: "wa", password: "password-1" }, h);
    await rpc(wire, "m3o", "login", { username: "wa", password: "not-the-password" }, h);
    await ok(wire, "grpc-web", "update", { id, email: "wa2@example.com" }, h);
    await ok(wire, "connect-binary", "delete", { id }, h);
    // Another namespace's events never reach it.
    await user("hooks-elsewhere", "wb");
    const expected = ["user.created", "session.created", "login.failed", "user.updated", "user.deleted"];
    await until("the user's events", () => receiver.ofUser(id).length === expected.length);
    const got = receiver.ofUser(id);
    expect(got.map((r) => r.payload.type)).toEqual(expected);
    const stored = await storedEvents(t.config.databaseUrl, id);
    expect(got.map((r) => r.id)).toEqual(stored.map((e) => `msg_${e.id}`));
    expect(got[3]!.payload.data).toMatchObject({
      namespace: "hooks-a",
      user_id: id,
      data: { email: "wa2@example.com" },
    });
    expect(receiver.forged).toEqual([]);
    expect(receiver.received.every((r) => r.payload.data.namespace === "hooks-a")).toBe(true);
    // Signed just now: a receiver's default five-minute tolerance accepts it.
    expect(Math.abs(Number(got[0]!.timestamp) - Date.now() / 1000)).toBeLessThan(300);
  });

  test("a receiver down, then up, gets every event in order; duplicates only with the same webhook-id", async () => {
    const { receiver } = await endpoint("hooks-b");
    // The first deliveries fail (a 503, then a hang-up, then a 500), then it is up.
    receiver.answer = (n) => (n === 1 ? 503 : n === 2 ? "hang-up" : n === 3 ? 500 : 204);
    const h = { ...admin, "micro-namespace": "hooks-b" };
    const id = await user("hooks-b", "wc");
    for (let i = 0; i < 6; i++) await ok(wire, "connect-json", "update", { id, username: `wc${i}` }, h);
    await until("all seven events", () => receiver.ofUser(id).length === 7);
    const got = receiver.ofUser(id);
    expect(got.map((r) => r.payload.type)).toEqual(["user.created", ...Array(6).fill("user.updated")]);
    expect(got.slice(1).map((r) => r.payload.data.data.username)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `wc${i}`));
    const ids = receiver.received.map((r) => r.id);
    const stored = await storedEvents(t.config.databaseUrl, id);
    expect(new Set(ids)).toEqual(new Set(stored.map((e) => `msg_${e.id}`)));
    expect(receiver.requests).toBeGreaterThanOrEqual(10);
    const delivered = await rawQuery(
      t.config.databaseUrl,
      "SELECT state, attempts FROM webhook_deliveries ORDER BY id",
    );
    expect(delivered.some((d) => Number(d.attempts) >= 4)).toBe(true);
  });

  test("an endpoint's type filter", async () => {
    const { receiver } = await endpoint("hooks-c", ["user.deleted", "user.created"]);
    const h = { ...admin, "micro-namespace": "hooks-c" };
    const id = await user("hooks-c", "wd");
    await ok(wire, "connect-json", "update", { id, username: "wd2" }, h);
    await ok(wire, "connect-json", "delete", { id }, h);
    await until("two events", () => receiver.ofUser(id).length === 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.ofUser(id).map((r) => r.payload.type)).toEqual(["user.created", "user.deleted"]);
  });

  test("an endpoint that keeps failing is disabled, and the list says why", async () => {
    const { receiver, id: endpointId } = await endpoint("hooks-d");
    receiver.answer = 500;
    await user("hooks-d", "we");
    await until("five failures", () => receiver.requests >= 5);
    await until("disabled", async () => {
      const list = await webhooksRpc(t.url, "ListWebhooks", {}, t.adminKey);
      const row = (list.json.webhooks as Array<{ id: string; state: string }>).find((w) => w.id === endpointId);
      return row?.state === "disabled";
    });
    const list = await webhooksRpc(t.url, "ListWebhooks", {}, t.adminKey);
    const row = (list.json.webhooks as Array<Record<string, unknown>>).find((w) => w.id === endpointId)!;
    expect(row.disabledReason).toContain("5 failed attempts in a row; last: HTTP 500");
    const requests = receiver.requests;
    await user("hooks-d", "wf");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.requests).toBe(requests);
    // Removing it takes its pending deliveries with it.
    expect((await webhooksRpc(t.url, "DeleteWebhook", { id: endpointId }, t.adminKey)).status).toBe(200);
    expect((await webhooksRpc(t.url, "DeleteWebhook", { id: endpointId }, t.adminKey)).status).toBe(404);
  });

  test("the secret is shown once: never listed, never stored in clear; only admin keys manage webhooks", async () => {
    const list = await webhooksRpc(t.url, "ListWebhooks", {}, t.adminKey);
    const dump =
      JSON.stringify(list.json) +
      JSON.stringify(await rawQuery(t.config.databaseUrl, "SELECT * FROM webhook_endpoints"));
    for (const secret of secrets) {
      expect(dump.includes(secret)).toBe(false);
      expect(dump.includes(secret.slice("whsec_".length))).toBe(false);
    }
    const service = await t.server.keys.create("hooks-a", "svc");
    expect((await webhooksRpc(t.url, "ListWebhooks", {}, service.key)).status).toBe(403);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/users_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
    expect(metrics).toMatch(/users_webhook_deliveries_total\{outcome="retried"\} [1-9]/);
    expect(metrics).toContain("users_webhook_oldest_undelivered_seconds");
  });
});
