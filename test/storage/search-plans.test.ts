// Search's plans on both engines, at a size that is quick in a test: a small
// SEARCH_SCAN_MAX stands for the default at a million users. Every answer is
// checked against the same search done in JavaScript over every user, and
// each plan's index entries read against the bound.

import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { openRepository } from "../../src/storage/open.js";
import type { PostgresRepository } from "../../src/storage/postgres/postgres-repository.js";
import { type Repository, SearchTooBroad, type User, type UserSearch } from "../../src/storage/repository.js";
import type { SqliteRepository } from "../../src/storage/sqlite/sqlite-repository.js";
import { RANGE_SORT_MAX } from "../../src/storage/user-search.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { grpcUsersClient } from "../support/grpc-js.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { outcome } from "./fixtures.js";

const SCAN_MAX = 3000;
const USERS = 8000;
const NS = "plans";

/**
 * User i, created at i: username a<i> (even i) or b<i> (odd); email x<i>@e.co
 * (even) or y<i>@e.co (odd), with a "w" after the x or y unless i is a
 * multiple of 3. So "a" and "y" match more than SCAN_MAX users and never the
 * same one; "xw" matches between RANGE_SORT_MAX and SCAN_MAX; "a1" a few hundred.
 */
function users(): User[] {
  return Array.from({ length: USERS }, (_, i) => ({
    id: `id${String(i).padStart(5, "0")}`,
    username: `${i % 2 ? "b" : "a"}${i}`,
    email: `${i % 2 ? "y" : "x"}${i % 3 ? "w" : ""}${i}@e.co`,
    createdMs: 1_000 + i,
    updatedMs: 1_000 + i,
  }));
}

function reference(all: User[], q: UserSearch): User[] {
  return all
    .filter((u) => u.username.startsWith(q.usernamePrefix) && u.email.startsWith(q.emailPrefix))
    .sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(q.offset, q.offset + q.limit);
}

const query = (q: Partial<UserSearch>): UserSearch => ({
  usernamePrefix: "",
  emailPrefix: "",
  limit: 10,
  offset: 0,
  ...q,
});

describe.each(ENGINES)("search plans (%s)", (engine) => {
  let repo: Repository & Pick<SqliteRepository | PostgresRepository, "searchWithPlan">;
  const all = users();

  beforeAll(async () => {
    repo = (await openRepository({
      databaseUrl: await freshDatabaseUrl(engine),
      pgPoolSize: 4,
      pgStatementTimeoutMs: 30_000,
      searchScanMax: SCAN_MAX,
    })) as typeof repo;
    for (let i = 0; i < all.length; i += 1000) {
      await repo.importUsers(all.slice(i, i + 1000).map((user) => ({ namespace: NS, user, passwordHash: "h" })));
    }
  });
  afterAll(async () => {
    await repo?.close();
  });

  test.each([
    // A rare prefix: the range of its index.
    ["rare username prefix", "range", query({ usernamePrefix: "a12" })],
    ["rare email prefix, deep offset", "range", query({ emailPrefix: "y1", offset: 100 })],
    ["rare and broad prefix together", "range", query({ usernamePrefix: "a", emailPrefix: "x10" })],
    ["two prefixes meeting rarely", "range", query({ usernamePrefix: "a1", emailPrefix: "x1" })],
    // A broad prefix, first pages: a short walk in creation order.
    ["broad prefix", "bounded walk", query({ usernamePrefix: "a" })],
    ["broad prefix, a later page", "bounded walk", query({ usernamePrefix: "b", offset: 900, limit: 100 })],
    // Matches too many for a range at first sight, too spread for the walk's
    // window (the limit 1, offset 1000), few enough for the range.
    ["a page beyond the walk's reach", "range", query({ emailPrefix: "xw", limit: 1, offset: 1500 })],
    // No prefix: creation order from the start.
    ["no prefix, deep offset", "walk", query({ offset: 5000, limit: 1000 })],
  ])("%s: exact, by the %s plan, within the bound", async (_, plan, q) => {
    const outcome = await repo.searchWithPlan(NS, q);
    expect(outcome.rows.map((u) => u.id)).toEqual(reference(all, q).map((u) => u.id));
    expect(outcome.plan).toBe(plan);
    // Counts (up to RANGE_SORT_MAX, then SCAN_MAX, for each prefix), one walk, one range.
    expect(outcome.entriesRead).toBeLessThanOrEqual(
      2 * (RANGE_SORT_MAX + 1) + SCAN_MAX + 2 * (SCAN_MAX + 1) + SCAN_MAX,
    );
  });

  test.each([
    // The issue's {"username":"u00","email":"u01"}: two broad prefixes that never meet.
    ["two broad prefixes that never meet", query({ usernamePrefix: "a", emailPrefix: "y" })],
    // A deep page of a broad prefix: the walk would pass most of the namespace.
    ["a deep page of a broad prefix", query({ usernamePrefix: "a", offset: 3000 })],
  ])("%s: refused with SearchTooBroad, never a walk of everyone", async (_, q) => {
    const result = await outcome(repo.searchUsers(NS, q));
    expect(result.ok).toBe(false);
    const error = (result as { error: unknown }).error;
    expect(error).toBeInstanceOf(SearchTooBroad);
    expect((error as Error).message).toBe(
      `search: too broad to answer within ${SCAN_MAX} index entries; narrow a prefix or lower the offset`,
    );
  });

  test("a namespace no larger than the bound is always answered, whatever the query", async () => {
    const small = all.slice(0, SCAN_MAX);
    await repo.importUsers(small.map((user) => ({ namespace: "small", user, passwordHash: "h" })));
    for (const q of [
      query({ usernamePrefix: "a", emailPrefix: "y" }),
      query({ usernamePrefix: "a", offset: 1400 }),
      query({ usernamePrefix: "b", emailPrefix: "y", offset: 1000, limit: 1000 }),
      query({ emailPrefix: "x", offset: 1499, limit: 5 }),
    ]) {
      expect((await repo.searchUsers("small", q)).map((u) => u.id)).toEqual(reference(small, q).map((u) => u.id));
    }
  });

  test("random queries give exactly the reference's page or a refusal", async () => {
    let state = 42;
    const random = (n: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    const prefixes = ["", "", "a", "b", "a1", "b2", "a12", "b3", "a4", "b99", "x", "y", "x1", "yw7", "xw", "y5"];
    let answered = 0;
    for (let k = 0; k < 60; k++) {
      const q = query({
        usernamePrefix: prefixes[random(prefixes.length)]!.replace(/^[xy]/, ""),
        emailPrefix: prefixes[random(prefixes.length)]!.replace(/^[ab]/, "x"),
        limit: 1 + random(50),
        offset: [0, 0, 10, 100, 1000, 4000][random(6)]!,
      });
      const result = await outcome(repo.searchUsers(NS, q));
      if (result.ok) {
        answered++;
        expect(result.value.map((u) => u.id)).toEqual(reference(all, q).map((u) => u.id));
      } else {
        expect(result.error).toBeInstanceOf(SearchTooBroad);
      }
    }
    expect(answered).toBeGreaterThan(30);
  });
});

describe.each(ENGINES)("a Search too broad for SEARCH_SCAN_MAX, over the wire (%s)", (engine) => {
  let t: TestServer;
  const all = users();

  beforeAll(async () => {
    const databaseUrl = await freshDatabaseUrl(engine);
    const seed = await openRepository({ databaseUrl, pgPoolSize: 2, pgStatementTimeoutMs: 30_000 });
    await seed.importUsers(all.slice(0, 1000).map((user) => ({ namespace: NS, user, passwordHash: "h" })));
    await seed.close();
    t = await startTestServer({ databaseUrl, env: { SEARCH_SCAN_MAX: "100" } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const headers = () => ({
    authorization: `Bearer ${t.adminKey}`,
    "micro-namespace": NS,
    "content-type": "application/json",
  });
  const tooBroad = "search: too broad to answer within 100 index entries; narrow a prefix or lower the offset";

  test("Connect and M3O answer 400 failed_precondition with the rule; a rare prefix is still answered", async () => {
    const connect = await fetch(`${t.url}/users.v1.Users/Search`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ username: "a", email: "y" }),
    });
    expect(connect.status).toBe(400);
    expect(await connect.json()).toMatchObject({ code: "failed_precondition", message: tooBroad });

    const m3o = await fetch(`${t.url}/users/Users/Search`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ username: "a", offset: 900 }),
    });
    expect(m3o.status).toBe(400);
    expect(await m3o.json()).toMatchObject({ detail: tooBroad });

    const rare = await fetch(`${t.url}/users/Users/Search`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ username: "a12", email: "x" }),
    });
    expect(rare.status).toBe(200);
    const expected = reference(all.slice(0, 1000), query({ usernamePrefix: "a12", emailPrefix: "x", limit: 25 }));
    expect(((await rare.json()) as { users: Array<{ id: string }> }).users.map((u) => u.id)).toEqual(
      expected.map((u) => u.id),
    );
  });

  test("gRPC answers FAILED_PRECONDITION with the rule", async () => {
    const client = grpcUsersClient(new URL(t.url).host);
    try {
      const failure = await client.fail(
        "Search",
        { username: "a", email: "y" },
        { authorization: `Bearer ${t.adminKey}`, "micro-namespace": NS },
      );
      expect(failure.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(failure.details).toBe(tooBroad);
    } finally {
      client.close();
    }
  });
});
