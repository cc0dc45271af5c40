// /metrics counts a known sequence of calls, by RPC, protocol and code.

import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Users } from "../../gen/users/v1/users_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** The value of one sample line of the Prometheus text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split("}")[0] ?? "";
    if (want.every((w) => labelText.includes(w))) return Number(line.split(" ").pop());
  }
  return undefined;
}

describe("metrics", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  test("counts calls by RPC, protocol and code, times RPCs, hashing and storage", async () => {
    const auth = { authorization: `Bearer ${t.adminKey}` };
    for (const name of ["m1", "m2", "m3"]) {
      const res = await fetch(`${t.url}/users.v1.Users/Create`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ username: name, email: `${name}@example.com`, password: "correct horse" }),
      });
      expect(res.status).toBe(200);
    }
    const missing = await fetch(`${t.url}/users/Users/Read`, {
      method: "POST",
      headers: auth,
      body: '{"id":"absent"}',
    });
    expect(missing.status).toBe(404);
    const client = createClient(Users, createGrpcWebTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    await client.login({ username: "m1", password: "correct horse" }, { headers: auth });
    await client.login({ username: "m2", password: "wrong horse!" }, { headers: auth }).catch(() => undefined);

    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    const calls = (rpc: string, protocol: string, code: string) =>
      sample(text, "users_rpc_calls_total", { rpc: `users.v1.Users/${rpc}`, protocol, code });
    expect(calls("Create", "connect", "ok")).toBe(3);
    expect(calls("Read", "m3o", "not_found")).toBe(1);
    expect(calls("Login", "grpc-web", "ok")).toBe(1);
    expect(calls("Login", "grpc-web", "unauthenticated")).toBe(1);
    expect(sample(text, "users_rpc_duration_seconds_count", { rpc: "users.v1.Users/Create" })).toBe(3);
    expect(sample(text, "users_password_hash_duration_seconds_count", { op: "hash" })).toBe(3);
    expect(sample(text, "users_password_hash_duration_seconds_count", { op: "verify" })).toBeGreaterThanOrEqual(2);
    expect(
      sample(text, "users_db_operation_duration_seconds_count", { operation: "insertUser", engine: "sqlite" }),
    ).toBe(3);
    expect(sample(text, "users_password_hash_queue_waiting", {})).toBe(0);
    expect(sample(text, "users_password_hash_running", {})).toBe(0);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });
});
