// gRPC health checking and the HTTP probes, against the real port.

import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, test } from "@jest/globals";
import pg from "pg";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { grpcAddress, grpcClientCtor, unary } from "../support/grpc-clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

const Health = grpcClientCtor("grpc/health/v1/health.proto", "grpc.health.v1.Health");

describe.each(ENGINES)("health (%s)", (engine) => {
  let t: TestServer | undefined;
  let client: InstanceType<typeof Health> | undefined;
  afterEach(async () => {
    client?.close();
    await t?.close();
    t = undefined;
  });

  test("Check answers SERVING for the server and for users.v1.Users, without an API key", async () => {
    t = await startTestServer({ engine });
    client = new Health(grpcAddress(t.url), grpc.credentials.createInsecure());
    expect(await unary(client, "Check", { service: "" })).toEqual({ status: "SERVING" });
    expect(await unary(client, "Check", { service: "users.v1.Users" })).toEqual({ status: "SERVING" });
    await expect(unary(client, "Check", { service: "nope.Service" })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });

  test("Watch reports SERVING, then NOT_SERVING when the server drains, then ends", async () => {
    t = await startTestServer({ engine });
    client = new Health(grpcAddress(t.url), grpc.credentials.createInsecure());
    const statuses: string[] = [];
    const stream = (client.Watch as (req: unknown) => grpc.ClientReadableStream<{ status: string }>)({ service: "" });
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    stream.on("error", () => {});
    await new Promise<void>((resolve) =>
      stream.on("data", (msg: { status: string }) => {
        statuses.push(msg.status);
        if (statuses.length === 1) resolve();
      }),
    );
    expect(statuses).toEqual(["SERVING"]);
    // Draining: the probe must say NOT_SERVING before the server goes away.
    const closing = t.close();
    const status = await ended;
    await closing;
    t = undefined;
    expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
    expect(status.code).toBe(grpc.status.OK);
  });

  test("GET /healthz and /readyz answer without an API key; /readyz says 503 while draining", async () => {
    t = await startTestServer({ engine });
    const healthz = await fetch(`${t.url}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ status: "alive" });
    const readyz = await fetch(`${t.url}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.json()).toEqual({ status: "ready" });
    expect((await fetch(`${t.url}/readyz`, { method: "POST" })).status).toBe(405);

    // The first step of a drain, before connections are refused.
    t.server.health.drain();
    const draining = await fetch(`${t.url}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: "not ready", reason: "draining" });
  });
});

const postgresOnly = ENGINES.includes("postgres") ? describe : describe.skip;

postgresOnly("health when PostgreSQL goes away and comes back", () => {
  test("Check is NOT_SERVING while the database refuses connections, SERVING again after", async () => {
    const url = await freshDatabaseUrl("postgres");
    const name = new URL(url).pathname.slice(1);
    const t = await startTestServer({ databaseUrl: url });
    const client = new Health(grpcAddress(t.url), grpc.credentials.createInsecure());
    const admin = new pg.Client({ connectionString: process.env.USERS_TEST_POSTGRES_URL });
    await admin.connect();
    try {
      expect(await unary(client, "Check", { service: "" })).toEqual({ status: "SERVING" });
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
      // A check's result answers probes for CHECK_CACHE_MS: the outage shows within that.
      await checkUntil(client, "NOT_SERVING");
      const readyz = await fetch(`${t.url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(await readyz.json()).toEqual({ status: "not ready", reason: "database unreachable" });

      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await checkUntil(client, "SERVING");
    } finally {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
      await admin.end();
      client.close();
      await t.close();
    }
  });
});

/** Calls Check until it answers `status`, for a few cache periods at most. */
async function checkUntil(client: InstanceType<typeof Health>, status: string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 30; i++) {
    last = await unary(client, "Check", { service: "" });
    if ((last as { status: string }).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(last).toEqual({ status });
}
