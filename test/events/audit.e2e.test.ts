// ListEvents, the audit log: over every protocol and on both engines, a
// user's history is exactly the calls made, newest first; pages walk it all
// with opaque tokens that are refused when damaged or reused with other
// filters; filters by type and time; the caller's namespace only; service and
// admin keys only; the events-written metric counts them; the sweeper trims
// events past EVENT_RETENTION_DAYS.
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startSweeper } from "../../src/service/sweeper.js";
import { openRepository } from "../../src/storage/open.js";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { ok, storedEvents } from "./support.js";

interface EventJson {
  id: string;
  type: string;
  userId?: string;
  namespace: string;
  requestId: string;
  created: string;
  data: string;
}

describe.each(ENGINES)("ListEvents (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;

  beforeAll(async () => {
    t = await startTestServer({ engine });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  async function listAll(p: (typeof PROTOCOLS)[number], request: JsonObject, headers = admin) {
    const events: EventJson[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const answer = await ok(wire, p, "listEvents", { ...request, pageToken }, headers);
      events.push(...((answer.json!.events ?? []) as unknown as EventJson[]));
      pageToken = String(answer.json!.nextPageToken ?? "");
      pages++;
    } while (pageToken !== "" && pages < 100);
    return { events, pages };
  }

  test.each(PROTOCOLS)("a user's history over %s is the calls made, newest first, a page at a time", async (p) => {
    const name = `au-${p.replace(/[^a-z]/g, "")}`;
    const h = (step: string) => ({ ...admin, "x-request-id": `${p}-${step}` });
    const created = await ok(
      wire,
      p,
      "create",
      { username: name, email: `${name}@example.com`, password: "password-1" },
      h("create"),
    );
    const id = (created.json!.user as { id: string }).id;
    const session = (
      (await ok(wire, p, "login", { username: name, password: "password-1" }, h("login"))).json!.session as {
        id: string;
      }
    ).id;
    await rpc(wire, p, "login", { username: name, password: "wrong-password" }, h("bad1"));
    await rpc(wire, p, "login", { username: name, password: "wrong-password" }, h("bad2"));
    await ok(wire, p, "update", { id, username: `${name}x` }, h("update"));
    await ok(wire, p, "logout", { sessionId: session }, h("logout"));

    const { events, pages } = await listAll(p, { userId: id, limit: "2" });
    expect(pages).toBe(3);
    expect(events.map((e) => [e.type, e.requestId])).toEqual([
      ["session.revoked", `${p}-logout`],
      ["user.updated", `${p}-update`],
      ["login.failed", `${p}-bad2`],
      ["login.failed", `${p}-bad1`],
      ["session.created", `${p}-login`],
      ["user.created", `${p}-create`],
    ]);
    expect(new Set(events.map((e) => e.userId))).toEqual(new Set([id]));
    expect(JSON.parse(events[1]!.data)).toEqual({ username: `${name}x` });
    // The same history as stored, and the time in unix seconds.
    const stored = (await storedEvents(t.config.databaseUrl, id)).reverse();
    expect(events.map((e) => Number(e.id))).toEqual(stored.map((s) => s.id));
    expect(events.map((e) => Number(e.created))).toEqual(stored.map((s) => Math.floor(s.created_ms / 1000)));

    const failed = await listAll(p, { userId: id, type: "login.failed" });
    expect(failed.events.map((e) => e.requestId)).toEqual([`${p}-bad2`, `${p}-bad1`]);
  });

  test("time bounds: since is inclusive, until exclusive, in unix seconds", async () => {
    const all = await storedEvents(t.config.databaseUrl);
    const first = Math.floor(all[0]!.created_ms / 1000);
    const future = Math.floor(Date.now() / 1000) + 3600;
    const none = await ok(wire, "connect-json", "listEvents", { since: String(future) }, admin);
    expect(none.json!.events ?? []).toEqual([]);
    const before = await ok(wire, "connect-json", "listEvents", { until: String(first), limit: "500" }, admin);
    expect(before.json!.events ?? []).toEqual([]);
    const from = await ok(wire, "connect-json", "listEvents", { since: String(first), limit: "500" }, admin);
    expect((from.json!.events as unknown[]).length).toBe(all.filter((e) => e.namespace === "default").length);
  });

  test("page tokens are refused when damaged or given with other filters; bad filters name their field", async () => {
    const first = await ok(wire, "connect-json", "listEvents", { limit: "1" }, admin);
    const token = String(first.json!.nextPageToken);
    expect(token).not.toBe("");
    const refused = async (request: JsonObject, field: string) => {
      const answer = await rpc(wire, "connect-json", "listEvents", request, admin);
      expect(answer.code).toBe("invalid_argument");
      expect(answer.message).toContain(field);
    };
    await refused({ limit: "1", pageToken: token, type: "user.created" }, "page_token");
    await refused({ limit: "1", pageToken: `${token}x` }, "page_token");
    await refused({ pageToken: "not a token" }, "page_token");
    await refused({ pageToken: Buffer.from('{"b":-1,"f":"x"}').toString("base64url") }, "page_token");
    await refused({ pageToken: "A".repeat(10_000) }, "page_token");
    await refused({ type: "user.exploded" }, "type");
    await refused({ limit: "501" }, "limit");
    await refused({ since: "-1" }, "since");
    await refused({ since: "100", until: "100" }, "until");
    await refused({ userId: "bad id!" }, "user_id");
    // The token with its own filters gives the next page.
    await ok(wire, "connect-json", "listEvents", { limit: "1", pageToken: token }, admin);
  });

  test("the caller's namespace only, and never a public key", async () => {
    const other = { ...admin, "micro-namespace": "elsewhere" };
    const made = await ok(
      wire,
      "grpc",
      "create",
      { username: "far", email: "far@example.com", password: "password-1" },
      other,
    );
    const farId = (made.json!.user as { id: string }).id;
    const here = await ok(wire, "grpc", "listEvents", { userId: farId }, admin);
    expect(here.json!.events ?? []).toEqual([]);
    const there = await ok(wire, "grpc", "listEvents", { userId: farId }, other);
    expect((there.json!.events as unknown as EventJson[]).map((e) => [e.type, e.namespace])).toEqual([
      ["user.created", "elsewhere"],
    ]);

    const service = await t.server.keys.create("elsewhere", "svc");
    const asService = await ok(
      wire,
      "m3o",
      "listEvents",
      { userId: farId },
      { authorization: `Bearer ${service.key}` },
    );
    expect((asService.json!.events as unknown as EventJson[]).length).toBe(1);
    const pub = await t.server.keys.create("elsewhere", "pub", "public");
    for (const p of PROTOCOLS) {
      const answer = await rpc(wire, p, "listEvents", { userId: farId }, { authorization: `Bearer ${pub.key}` });
      expect(answer.code).toBe("permission_denied");
    }
  });

  test("the events-written metric counts what was appended, by type", async () => {
    const res = await fetch(`${t.url}/metrics`);
    const text = await res.text();
    const created = (await storedEvents(t.config.databaseUrl)).filter((e) => e.type === "user.created").length;
    expect(text).toContain(`users_events_written_total{type="user.created"} ${created}`);
  });
});

describe.each(ENGINES)("event retention (%s)", (engine) => {
  test("the sweeper deletes events older than the retention, and only those", async () => {
    const databaseUrl = await freshDatabaseUrl(engine);
    const repo = await openRepository({ databaseUrl, pgPoolSize: 2, pgStatementTimeoutMs: 5000 });
    try {
      const day = 86_400_000;
      const now = 1_800_000_000_000;
      const user = { id: "u1", username: "u1", email: "u1@example.com", createdMs: now, updatedMs: now };
      const draft = (createdMs: number) => ({
        type: "user.updated",
        namespace: "default",
        userId: "u1",
        actorKey: "",
        actorSession: "",
        requestId: `at-${createdMs}`,
        createdMs,
        data: {},
      });
      await repo.insertUser("default", user, "$2b$04$abcdefghijklmnopqrstuu5VnHnbX5cW0i4T3VVxJ3xK3qZ7QqQ0u", [
        draft(now - 10 * day),
      ]);
      for (const age of [9, 5, 1]) {
        await repo.updateUser("default", "u1", { username: `u1${age}` }, now, [draft(now - age * day)]);
      }
      let failed: unknown;
      const stop = startSweeper(
        repo,
        () => now,
        10,
        (err) => {
          failed = err;
        },
        6 * day,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      stop();
      expect(failed).toBeUndefined();
      const left = await storedEvents(databaseUrl);
      expect(left.map((e) => e.request_id)).toEqual([`at-${now - 5 * day}`, `at-${now - day}`]);
    } finally {
      await repo.close();
    }
  });
});
