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
