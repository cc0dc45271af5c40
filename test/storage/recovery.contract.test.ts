// Account recovery's storage contract on both engines, called directly and
// concurrently (on PostgreSQL over a pool of connections): a queued mail's
// pending token is bound for the address's user or the mail dropped; a reset
// code's tries are counted exactly (a burst of wrong ones gets 5 between
// them); a right code sets the hash, ends the sessions and verifies; a magic
// link is spent once however many use it at once; mail that expired before
// any sender bound it keeps no stranger's address.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { NewOutboxMessage } from "../../src/mail/outbox.js";
import { digest } from "../../src/service/tokens.js";
import { openRepository } from "../../src/storage/open.js";
import type { Repository } from "../../src/storage/repository.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";

const T0 = 1_800_000_000_000;
const NS = "ns";

describe.each(ENGINES)("account recovery storage (%s)", (engine) => {
  let url: string;
  let repo: Repository;
  let n = 0;
  beforeAll(async () => {
    url = await freshDatabaseUrl(engine);
    repo = await openRepository({ databaseUrl: url, pgPoolSize: 10, pgStatementTimeoutMs: 5000 });
  });
  afterAll(() => repo.close());

  async function user() {
    const id = `u${++n}`;
    const email = `${id}@example.com`;
    await repo.insertUser(NS, { id, username: id, email, createdMs: T0, updatedMs: T0 }, "old-hash");
    return { id, email };
  }

  function tokenMail(email: string, purpose: string, secret: string, createdMs = T0): NewOutboxMessage {
    return {
      id: `m-${++n}`,
      namespace: NS,
      recipient: email,
      subject: "s",
      text: `the secret ${secret}`,
      fromName: "App",
      createdMs,
      expiresMs: createdMs + 600_000,
      token: { purpose, digest: digest(secret), redirectUrl: "", failureRedirectUrl: "" },
    };
  }

  /** Queues the mail, claims it and binds its token; the outcome. */
  async function bind(message: NewOutboxMessage) {
    await repo.queueMail(message);
    const [claimed] = (await repo.claimMail("owner", message.createdMs, 60_000, 100)).filter(
      (m) => m.id === message.id,
    );
    expect(claimed?.token?.digest.equals(message.token!.digest)).toBe(true);
    return repo.bindMailToken(claimed!, "owner");
  }

  test("binding: a known address gets the token (the mail is kept, its token no longer pending); an unknown one's mail is dropped", async () => {
    const u = await user();
    const known = tokenMail(u.email, "magic_link", "link-1");
    expect(await bind(known)).toBe("bound");
    const [row] = await rawQuery(url, `SELECT token_purpose, status FROM mail_outbox WHERE id = '${known.id}'`);
    expect(row).toEqual({ token_purpose: "", status: "queued" });
    expect(await repo.spendMagicLink(NS, digest("link-1"), T0 + 1)).toMatchObject({ id: u.id });

    const stranger = tokenMail("nobody@example.com", "magic_link", "link-2");
    expect(await bind(stranger)).toBe("dropped");
    expect(await rawQuery(url, `SELECT id FROM mail_outbox WHERE id = '${stranger.id}'`)).toEqual([]);
  });

  test("binding needs the lease: another owner's claim is left alone", async () => {
    const u = await user();
    const message = tokenMail(u.email, "magic_link", "link-3");
    await repo.queueMail(message);
    const [claimed] = (await repo.claimMail("owner-a", T0, 60_000, 100)).filter((m) => m.id === message.id);
    expect(await repo.bindMailToken(claimed!, "owner-b")).toBe("not-held");
    expect(await repo.spendMagicLink(NS, digest("link-3"), T0 + 1)).toBeUndefined();
  });

  test("a new token voids the previous one of its purpose", async () => {
    const u = await user();
    expect(await bind(tokenMail(u.email, "magic_link", "old-link"))).toBe("bound");
    expect(await bind(tokenMail(u.email, "magic_link", "new-link", T0 + 5))).toBe("bound");
    expect(await repo.spendMagicLink(NS, digest("old-link"), T0 + 10)).toBeUndefined();
    expect(await repo.spendMagicLink(NS, digest("new-link"), T0 + 10)).toMatchObject({ id: u.id });
  });

  test("a reset code: 24 wrong tries at once are counted 5, then even the right code fails", async () => {
    const u = await user();
    expect(await bind(tokenMail(u.email, "reset_password", "right-code"))).toBe("bound");
    const attempt = (code: string) =>
      repo.resetPassword({
        namespace: NS,
        email: u.email,
        digest: digest(code),
        newHash: "new-hash",
        nowMs: T0 + 1,
        maxAttempts: 5,
      });
    const outcomes = await Promise.all(Array.from({ length: 24 }, (_, i) => attempt(`wrong-${i}`)));
    expect(outcomes.every((o) => o === undefined)).toBe(true);
    const [row] = await rawQuery(url, `SELECT attempts FROM mail_tokens WHERE user_id = '${u.id}'`);
    expect(Number(row!.attempts)).toBe(5);
    expect(await attempt("right-code")).toBeUndefined();
    expect((await repo.getCredential(NS, u.id))!.passwordHash).toBe("old-hash");
  });

  test("a right reset code sets the hash, ends every session and verifies the email, once", async () => {
    const u = await user();
    for (let i = 0; i < 3; i++) {
      const session = { idDigest: digest(`s-${u.id}-${i}`), userId: u.id, createdMs: T0, expiresMs: T0 + 9e6 };
      expect(await repo.insertSession(NS, session, "old-hash")).toBe(true);
    }
    expect(await bind(tokenMail(u.email, "reset_password", "code-ok"))).toBe("bound");
    const reset = { namespace: NS, email: u.email, digest: digest("code-ok"), newHash: "h2", nowMs: T0 + 2 };
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () => repo.resetPassword({ ...reset, maxAttempts: 5 })),
    );
    expect(outcomes.filter((o) => o !== undefined)).toHaveLength(1);
    expect(outcomes.find((o) => o !== undefined)).toMatchObject({ id: u.id, verifiedMs: T0 + 2 });
    expect((await repo.getCredential(NS, u.id))!.passwordHash).toBe("h2");
    expect(await repo.listSessions(NS, u.id, T0, 100)).toEqual([]);
  });

  test("a magic link is spent once, however many use it at once; an expired one not at all", async () => {
    const u = await user();
    expect(await bind(tokenMail(u.email, "magic_link", "race-link"))).toBe("bound");
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () => repo.spendMagicLink(NS, digest("race-link"), T0 + 1)),
    );
    expect(outcomes.filter((o) => o !== undefined)).toHaveLength(1);
    expect(await bind(tokenMail(u.email, "magic_link", "late-link", T0 + 10))).toBe("bound");
    expect(await repo.spendMagicLink(NS, digest("late-link"), T0 + 10 + 600_000)).toBeUndefined();
    // A link is not a reset code, and works only in its namespace.
    expect(await bind(tokenMail(u.email, "magic_link", "ns-link", T0 + 20))).toBe("bound");
    expect(await repo.spendMagicLink("other", digest("ns-link"), T0 + 21)).toBeUndefined();
    expect(await repo.spendMagicLink(NS, digest("ns-link"), T0 + 21)).toMatchObject({ id: u.id });
  });

  test("the sweep deletes expired never-bound mail to an address nobody has; a user's is given up and kept", async () => {
    const u = await user();
    const at = T0 + 50_000_000;
    const stranger = tokenMail("stranger@example.com", "magic_link", "unbound-1", at);
    const known = tokenMail(u.email, "magic_link", "unbound-2", at);
    await repo.queueMail(stranger);
    await repo.queueMail(known);
    await repo.sweepOutbox(at + 600_000, 0, 1000);
    expect(await rawQuery(url, `SELECT id FROM mail_outbox WHERE id = '${stranger.id}'`)).toEqual([]);
    expect(await rawQuery(url, `SELECT status, body FROM mail_outbox WHERE id = '${known.id}'`)).toEqual([
      { status: "failed", body: "" },
    ]);
  });
});
