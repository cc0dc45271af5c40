// One structured log line per call, with its fields, and never a secret.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startTestServer, type TestServer } from "../support/server.js";

describe("call logs", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}`, ...headers },
      body: JSON.stringify(body),
    });

  test("each call writes one JSON line with request id, namespace, RPC, protocol, code and duration", async () => {
    const before = t.logs.length;
    const res = await post("/users/Users/Search", {}, { "x-request-id": "req-abc.123", "micro-namespace": "logs-ns" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("req-abc.123");
    const lines = t.logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    const calls = lines.filter((l) => l.msg === "call");
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      level: "info",
      request_id: "req-abc.123",
      namespace: "logs-ns",
      rpc: "users.v1.Users/Search",
      protocol: "m3o",
      code: "ok",
    });
    expect(typeof calls[0]!.duration_ms).toBe("number");

    // Without an x-request-id (or with an unsafe one) the server makes one.
    for (const headers of [{}, { "x-request-id": "spaces and {braces} are not kept" }] as Array<
      Record<string, string>
    >) {
      const made = await post("/users/Users/Search", {}, headers);
      expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  test("no password, session id or API key appears in any log line", async () => {
    const password = "S3cret-horse-battery";
    const newPassword = "N3w-secret-staple!";
    await post("/users/Users/Create", { username: "logsecret", email: "logsecret@example.com", password });
    const login = (await (await post("/users/Users/Login", { username: "logsecret", password })).json()) as {
      session: { id: string; user_id: string };
    };
    const sessionId = login.session.id;
    await post("/users/Users/ReadSession", { session_id: sessionId });
    await post("/users/Users/Login", { username: "logsecret", password: "wrong-password-1" });
    await post("/users/Users/UpdatePassword", {
      user_id: login.session.user_id,
      old_password: password,
      new_password: newPassword,
      confirm_password: newPassword,
    });
    await post("/users/Users/Logout", { session_id: sessionId });
    await post("/users/Users/Read", { id: "x" }, { authorization: "Bearer usk_not-a-real-key-but-secret-looking" });
    const all = t.logs.join("\n");
    for (const secret of [
      password,
      newPassword,
      "wrong-password-1",
      sessionId,
      t.adminKey,
      "usk_not-a-real-key-but-secret-looking",
    ]) {
      expect(all).not.toContain(secret);
    }
    expect(t.logs.length).toBeGreaterThan(6);
  });
});

/** Calls of one server's log, parsed. */
const callLines = (logs: string[]) =>
  logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "call");

/** The value of users_rpc_calls_total for one RPC, protocol and code. */
async function counted(url: string, rpc: string, code: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split("\n")
    .find(
      (l) =>
        l.startsWith("users_rpc_calls_total{") &&
        l.includes(`rpc="users.v1.Users/${rpc}"`) &&
        l.includes(`code="${code}"`) &&
        l.includes('protocol="m3o"'),
    );
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

describe("LOG_CALLS=sample (the default): every failed call, successful ones up to a rate, the rest counted", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { LOG_CALLS_PER_SECOND: "5" } });
  });
  afterAll(() => t.close());

  const post = (path: string, body: unknown) =>
    fetch(`${t.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}`, "micro-namespace": "sampled" },
      body: JSON.stringify(body),
    });

  test("successful lines stop at the rate, unlogged_calls accounts for each one left out, failures are all logged", async () => {
    const before = t.logs.length;
    const started = Date.now();
    const OK_CALLS = 60;
    let failures = 0;
    for (let i = 0; i < OK_CALLS; i++) {
      expect((await post("/users/Users/Search", {})).status).toBe(200);
      if (i % 10 === 9) {
        expect((await post("/users/Users/Read", { id: `absent-${i}` })).status).toBe(404);
        failures++;
      }
    }
    const seconds = Math.ceil((Date.now() - started) / 1000);
    // One more failure: it is logged, and carries the count of any successful calls left out since the line before.
    expect((await post("/users/Users/Read", { id: "absent-last" })).status).toBe(404);
    failures++;
    const lines = callLines(t.logs.slice(before));
    const ok = lines.filter((l) => l.code === "ok");
    const failed = lines.filter((l) => l.code === "not_found");
    expect(failed).toHaveLength(failures);
    // At most 5 a second (plus one window begun at each end of the run).
    expect(ok.length).toBeLessThanOrEqual(5 * (seconds + 1));
    expect(ok.length).toBeLessThan(OK_CALLS);
    const unlogged = lines.reduce((sum, l) => sum + ((l.unlogged_calls as number | undefined) ?? 0), 0);
    expect(ok.length + unlogged).toBe(OK_CALLS);
    // Metrics count every call, logged or not.
    expect(await counted(t.url, "Search", "ok")).toBeGreaterThanOrEqual(OK_CALLS);
    expect(await counted(t.url, "Read", "not_found")).toBe(failures);
  });
});

describe("LOG_CALLS=errors and LOG_CALLS=all", () => {
  test("errors: no line for a successful call, one for each failed call", async () => {
    const t = await startTestServer({ env: { LOG_CALLS: "errors" } });
    try {
      const before = t.logs.length;
      const headers = { authorization: `Bearer ${t.adminKey}` };
      for (let i = 0; i < 5; i++) {
        await fetch(`${t.url}/users/Users/Search`, { method: "POST", headers, body: "{}" });
      }
      await fetch(`${t.url}/users/Users/Read`, { method: "POST", headers, body: '{"id":"absent"}' });
      const lines = callLines(t.logs.slice(before));
      expect(lines.map((l) => l.code)).toEqual(["not_found"]);
      expect(lines[0]!.unlogged_calls).toBe(5);
    } finally {
      await t.close();
    }
  });

  test("all: a line for every call, however many a second", async () => {
    const t = await startTestServer({ env: { LOG_CALLS: "all", LOG_CALLS_PER_SECOND: "1" } });
    try {
      const before = t.logs.length;
      const headers = { authorization: `Bearer ${t.adminKey}` };
      for (let i = 0; i < 20; i++) {
        await fetch(`${t.url}/users/Users/Search`, { method: "POST", headers, body: "{}" });
      }
      expect(callLines(t.logs.slice(before)).filter((l) => l.code === "ok")).toHaveLength(20);
    } finally {
      await t.close();
    }
  });

  test("a slow call is logged even when successful ones are not", async () => {
    const t = await startTestServer({ env: { LOG_CALLS: "errors", LOG_SLOW_CALL_MS: "1", BCRYPT_COST: "8" } });
    try {
      const before = t.logs.length;
      const res = await fetch(`${t.url}/users/Users/Create`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.adminKey}` },
        body: JSON.stringify({ username: "slowpoke", email: "slow@example.com", password: "correct horse" }),
      });
      expect(res.status).toBe(200);
      expect(callLines(t.logs.slice(before)).map((l) => [l.rpc, l.code])).toEqual([["users.v1.Users/Create", "ok"]]);
    } finally {
      await t.close();
    }
  });
});
