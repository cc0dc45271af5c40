// The mail outbox's storage contract on both engines: queue, claim with a
// lease (one owner at a time, a dead owner's lease runs out), outcomes that
// erase the body, statistics, the sweep; and on each engine, many claimers at
// once taking every message exactly once.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { NewOutboxMessage } from "../../src/mail/outbox.js";
import { openRepository } from "../../src/storage/open.js";
import type { Repository } from "../../src/storage/repository.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";

const T0 = 1_800_000_000_000;

function mail(id: string, overrides: Partial<NewOutboxMessage> = {}): NewOutboxMessage {
  return {
    id,
    namespace: "ns",
    recipient: `${id}@example.com`,
    subject: `subject ${id}`,
    text: `secret link ${id}`,
    fromName: "App",
    createdMs: T0,
    expiresMs: T0 + 3_600_000,
    ...overrides,
  };
}

describe.each(ENGINES)("mail outbox (%s)", (engine) => {
  let url: string;
  let repo: Repository;
  beforeAll(async () => {
    url = await freshDatabaseUrl(engine);
    repo = await openRepository({ databaseUrl: url, pgPoolSize: 10, pgStatementTimeoutMs: 5000 });
  });
  afterAll(() => repo.close());

  async function bodies(prefix: string) {
    return rawQuery(
      url,
      `SELECT id, body, status, attempts, reason FROM mail_outbox WHERE id LIKE '${prefix}%' ORDER BY id`,
    );
  }

  test("a claim takes due mail once, under a lease; after the lease another owner may take it", async () => {
    await repo.queueMail(mail("a1"));
    await repo.queueMail(mail("a2", { createdMs: T0 + 1 }));
    const first = await repo.claimMail("owner-1", T0 + 10, 60_000, 10);
    expect(first.filter((m) => m.id.startsWith("a")).map((m) => m.id)).toEqual(["a1", "a2"]);
    expect(first.find((m) => m.id === "a1")).toMatchObject({
      recipient: "a1@example.com",
      subject: "subject a1",
      text: "secret link a1",
      fromName: "App",
      attempts: 0,
      createdMs: T0,
      expiresMs: T0 + 3_600_000,
    });
    // Leased: nobody else gets them while the lease lasts.
    expect((await repo.claimMail("owner-2", T0 + 20, 60_000, 10)).filter((m) => m.id.startsWith("a"))).toEqual([]);
    // The owner died: past its lease the mail is due again.
    const again = await repo.claimMail("owner-2", T0 + 60_011, 60_000, 10);
    expect(again.filter((m) => m.id.startsWith("a")).map((m) => m.id)).toEqual(["a1", "a2"]);
    // The first owner's late outcome no longer counts.
    await repo.markMailSent("a1", "owner-1", T0 + 60_012);
    expect((await bodies("a1"))[0]).toMatchObject({ status: "queued", body: "secret link a1" });
    await repo.markMailSent("a1", "owner-2", T0 + 60_013);
    await repo.markMailSent("a2", "owner-2", T0 + 60_013);
  });

  test("sent and given-up mail keeps no body; a retry waits for its time and counts the attempt", async () => {
    await repo.queueMail(mail("b1"));
    await repo.queueMail(mail("b2"));
    await repo.queueMail(mail("b3"));
    const claimed = (await repo.claimMail("o", T0 + 100_000, 60_000, 100)).filter((m) => m.id.startsWith("b"));
    expect(claimed).toHaveLength(3);
    await repo.markMailSent("b1", "o", T0 + 100_001);
    await repo.markMailFailed("b2", "o", T0 + 100_001, "gave up after 1 attempts: 550 no such user");
    await repo.markMailRetry("b3", "o", T0 + 200_000, "ECONNREFUSED");
    expect(await bodies("b")).toEqual([
      { id: "b1", body: "", status: "sent", attempts: 1, reason: "" },
      { id: "b2", body: "", status: "failed", attempts: 1, reason: "gave up after 1 attempts: 550 no such user" },
      { id: "b3", body: "secret link b3", status: "queued", attempts: 1, reason: "ECONNREFUSED" },
    ]);
    expect((await repo.claimMail("o", T0 + 199_999, 60_000, 100)).map((m) => m.id)).not.toContain("b3");
    const retried = (await repo.claimMail("o", T0 + 200_000, 60_000, 100)).find((m) => m.id === "b3");
    expect(retried).toMatchObject({ attempts: 1, text: "secret link b3" });
    await repo.markMailSent("b3", "o", T0 + 200_001);
  });

  test("statistics count queued mail and the age of the oldest; the sweep expires dead links and forgets old rows", async () => {
    const db = await openRepository({
      databaseUrl: await freshDatabaseUrl(engine),
      pgPoolSize: 2,
      pgStatementTimeoutMs: 5000,
    });
    try {
      expect(await db.outboxStats(T0)).toEqual({ queued: 0, oldestQueuedMs: 0 });
      await db.queueMail(mail("c1", { createdMs: T0, expiresMs: T0 + 1000 }));
      await db.queueMail(mail("c2", { createdMs: T0 + 500 }));
      await db.queueMail(mail("c3", { createdMs: T0 + 500 }));
      expect(await db.outboxStats(T0 + 800)).toEqual({ queued: 3, oldestQueuedMs: 800 });
      // An expired message is never claimed, even before the sweep.
      const claimed = await db.claimMail("o", T0 + 1000, 60_000, 10);
      expect(claimed.map((m) => m.id).sort()).toEqual(["c2", "c3"]);
      await db.markMailSent("c2", "o", T0 + 1000);
      expect(await db.sweepOutbox(T0 + 1000, T0, 100)).toEqual({ expired: 1, deleted: 0 });
      // c3 is leased until T0 + 61_000 and not expired: untouched.
      expect(await db.outboxStats(T0 + 1000)).toEqual({ queued: 1, oldestQueuedMs: 500 });
      // Finished rows older than the retention go; the queued one stays.
      expect(await db.sweepOutbox(T0 + 2000, T0 + 1001, 100)).toEqual({ expired: 0, deleted: 2 });
      expect(await db.outboxStats(T0 + 2000)).toEqual({ queued: 1, oldestQueuedMs: 1500 });
    } finally {
      await db.close();
    }
  });

  test("the sweep keeps why an expired mail was never delivered, and erases its body", async () => {
    const dbUrl = await freshDatabaseUrl(engine);
    const db = await openRepository({ databaseUrl: dbUrl, pgPoolSize: 2, pgStatementTimeoutMs: 5000 });
    try {
      await db.queueMail(mail("d1", { expiresMs: T0 + 10_000 }));
      await db.claimMail("o", T0, 1000, 10);
      await db.markMailRetry("d1", "o", T0 + 5_000, "421 try later");
      await db.sweepOutbox(T0 + 10_000, 0, 100);
      expect(await rawQuery(dbUrl, "SELECT body, status, reason FROM mail_outbox WHERE id = 'd1'")).toEqual([
        { body: "", status: "failed", reason: "expired before delivery: 421 try later" },
      ]);
    } finally {
      await db.close();
    }
  });

  test("many claimers at once (separate connections) take every message exactly once", async () => {
    const dbUrl = await freshDatabaseUrl(engine);
    const open = () => openRepository({ databaseUrl: dbUrl, pgPoolSize: 4, pgStatementTimeoutMs: 5000 });
    const repos = await Promise.all([open(), open(), open()]);
    try {
      const ids = Array.from({ length: 60 }, (_, i) => `e${String(i).padStart(2, "0")}`);
      for (const id of ids) await repos[0]!.queueMail(mail(id));
      const taken: string[] = [];
      await Promise.all(
        repos.flatMap((r, n) =>
          [0, 1, 2, 3].map(async (k) => {
            for (;;) {
              const batch = await r.claimMail(`owner-${n}-${k}`, T0 + 1, 60_000, 3);
              if (batch.length === 0) return;
              taken.push(...batch.map((m) => m.id));
            }
          }),
        ),
      );
      expect(taken.sort()).toEqual(ids);
    } finally {
      await Promise.all(repos.map((r) => r.close()));
    }
  });
});
