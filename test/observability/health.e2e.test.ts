// Readiness probes need no API key, so their cost must not grow with how many
// arrive: a flood of /readyz and gRPC Health checks costs at most one database
// check per CHECK_CACHE_MS, seen from the server's own database metrics.

import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import { CHECK_CACHE_MS, HealthMonitor } from "../../src/observability/health.js";
import type { Repository } from "../../src/storage/repository.js";
import { ENGINES } from "../support/databases.js";
import { grpcAddress, grpcClientCtor, unary } from "../support/grpc-clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

const Health = grpcClientCtor("grpc/health/v1/health.proto", "grpc.health.v1.Health");

async function pings(t: TestServer): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("users_db_operation_duration_seconds_count") && l.includes('operation="ping"'));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe.each(ENGINES)("readiness under a flood of probes (%s)", (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine });
  });
  afterAll(async () => {
    await t?.close();
  });

  test("200 /readyz and 100 gRPC Health checks at once cost at most a few database checks", async () => {
    const client = new Health(grpcAddress(t.url), grpc.credentials.createInsecure());
    try {
      const before = await pings(t);
      const started = performance.now();
      const answers = await Promise.all([
        ...Array.from({ length: 200 }, () => fetch(`${t.url}/readyz`).then((r) => r.status)),
        ...Array.from({ length: 100 }, () =>
          unary<{ status: string }>(client, "Check", { service: "" }).then((r) => (r.status === "SERVING" ? 200 : 503)),
        ),
      ]);
      expect(answers.every((status) => status === 200)).toBe(true);
      const used = (await pings(t)) - before;
      // One check per period while the flood lasts (it may straddle a period or two), plus the background poll;
      // on a busy machine the flood lasts longer, so the bound counts its periods (300 uncached probes would be 300).
      const periods = Math.ceil((performance.now() - started) / CHECK_CACHE_MS);
      expect(used).toBeLessThanOrEqual(periods + 3);
      expect(used).toBeLessThan(50);
    } finally {
      client.close();
    }
  });
});

describe("HealthMonitor's check cache", () => {
  function counting(ping: () => Promise<void>): { repo: Repository; calls: () => number } {
    let calls = 0;
    const repo = {
      ping: () => {
        calls++;
        return ping();
      },
    } as unknown as Repository;
    return { repo, calls: () => calls };
  }

  test("probes within a period share one database check, a later probe makes a new one", async () => {
    let now = 0;
    const { repo, calls } = counting(async () => {});
    const monitor = new HealthMonitor(repo, 2000, CHECK_CACHE_MS, () => now);
    await Promise.all(Array.from({ length: 50 }, () => monitor.check()));
    expect(calls()).toBe(1);
    now += CHECK_CACHE_MS - 1;
    await monitor.check();
    expect(calls()).toBe(1);
    now += 1;
    expect(await monitor.check()).toEqual({ status: "SERVING" });
    expect(calls()).toBe(2);
  });

  test("an outage is reported within a period, and so is the recovery", async () => {
    let now = 0;
    let down = false;
    const { repo } = counting(async () => {
      if (down) throw new Error("down");
    });
    const monitor = new HealthMonitor(repo, 2000, CHECK_CACHE_MS, () => now);
    const changes = jest.fn();
    monitor.subscribe(changes);
    expect(await monitor.check()).toEqual({ status: "SERVING" });
    down = true;
    now += CHECK_CACHE_MS;
    expect(await monitor.check()).toEqual({ status: "NOT_SERVING", reason: "database unreachable" });
    down = false;
    expect((await monitor.check()).status).toBe("NOT_SERVING");
    now += CHECK_CACHE_MS;
    expect(await monitor.check()).toEqual({ status: "SERVING" });
    expect(changes).toHaveBeenCalledTimes(2);
  });

  test("draining is reported at once, even while a database check is cached", async () => {
    const { repo } = counting(async () => {});
    const monitor = new HealthMonitor(repo);
    await monitor.check();
    monitor.drain();
    expect(await monitor.check()).toEqual({ status: "NOT_SERVING", reason: "draining" });
  });
});
