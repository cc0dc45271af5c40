// The second factors' storage contract (MfaStore), run unchanged on each
// engine: pending enrolments and their replacement, confirmation in one
// transaction with the recovery codes, proofs spent once even when many
// connections try at once, tickets that die at their failure limit and expire,
// and everything going with its user.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { MfaProof } from "../../src/storage/mfa-store.js";
import type { Repository } from "../../src/storage/repository.js";
import { ENGINES } from "../support/databases.js";
import { digest, freshNamespace, freshRepository, user } from "./fixtures.js";

describe.each(ENGINES)("MfaStore contract (%s)", (engine) => {
  let repo: Repository;
  beforeAll(async () => {
    repo = await freshRepository(engine);
  });
  afterAll(() => repo.close());

  async function withUser(): Promise<{ ns: string; id: string }> {
    const ns = freshNamespace();
    await repo.insertUser(ns, user("u1", "alice", "alice@example.com"), "hash-a");
    return { ns, id: "u1" };
  }

  async function confirmed(): Promise<{ ns: string; id: string; codes: Buffer[] }> {
    const { ns, id } = await withUser();
    const codes = [digest(`${ns}-c1`), digest(`${ns}-c2`)];
    expect(await repo.putPendingTotp(ns, id, "sealed-1", 1000)).toBe("stored");
    expect(await repo.confirmTotp(ns, id, "sealed-1", 100, codes, 2000)).toBe(true);
    return { ns, id, codes };
  }

  test("a pending enrolment replaces a pending one, never a confirmed one; no user, nothing stored", async () => {
    const { ns, id } = await withUser();
    expect(await repo.putPendingTotp(ns, "nobody", "sealed-x", 1000)).toBe("no_user");
    expect(await repo.getTotp(ns, "nobody")).toBeUndefined();
    expect(await repo.putPendingTotp(ns, id, "sealed-1", 1000)).toBe("stored");
    expect(await repo.putPendingTotp(ns, id, "sealed-2", 1500)).toBe("stored");
    expect(await repo.getTotp(ns, id)).toEqual({
      sealedSecret: "sealed-2",
      createdMs: 1500,
      confirmedMs: 0,
      lastStep: -1,
    });
    // The replaced secret no longer confirms.
    expect(await repo.confirmTotp(ns, id, "sealed-1", 10, [], 2000)).toBe(false);
    expect(await repo.confirmTotp(ns, id, "sealed-2", 10, [digest("c")], 2000)).toBe(true);
    expect(await repo.getTotp(ns, id)).toEqual({
      sealedSecret: "sealed-2",
      createdMs: 1500,
      confirmedMs: 2000,
      lastStep: 10,
    });
    expect(await repo.putPendingTotp(ns, id, "sealed-3", 3000)).toBe("enabled");
    expect(await repo.confirmTotp(ns, id, "sealed-2", 11, [], 3000)).toBe(false);
    expect(await repo.countRecoveryCodes(ns, id)).toBe(1);
  });

  test("a TOTP step is spent once, only after the last one; many connections at once: one wins", async () => {
    const { ns, id } = await confirmed();
    const step = (s: number): MfaProof => ({ kind: "totp", sealedSecret: "sealed-1", step: s });
    expect(await repo.spendMfaProof(ns, id, step(100))).toBe(false); // the confirming step
    expect(await repo.spendMfaProof(ns, id, step(99))).toBe(false);
    expect(await repo.spendMfaProof(ns, id, { kind: "totp", sealedSecret: "other", step: 101 })).toBe(false);
    const results = await Promise.all(Array.from({ length: 10 }, () => repo.spendMfaProof(ns, id, step(101))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await repo.getTotp(ns, id))!.lastStep).toBe(101);
  });

  test("recovery codes: each spent once (concurrently too), replaced as a set, only while TOTP is on", async () => {
    const { ns, id, codes } = await confirmed();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => repo.spendMfaProof(ns, id, { kind: "recovery_code", digest: codes[0]! })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await repo.countRecoveryCodes(ns, id)).toBe(1);
    expect(await repo.replaceRecoveryCodes(ns, id, [digest("n1"), digest("n2"), digest("n3")])).toBe(true);
    expect(await repo.spendMfaProof(ns, id, { kind: "recovery_code", digest: codes[1]! })).toBe(false);
    expect(await repo.countRecoveryCodes(ns, id)).toBe(3);
    expect(await repo.deleteTotp(ns, id)).toBe(true);
    expect(await repo.countRecoveryCodes(ns, id)).toBe(0);
    expect(await repo.replaceRecoveryCodes(ns, id, [digest("n4")])).toBe(false);
    expect(await repo.deleteTotp(ns, id)).toBe(false);
  });

  test("a ticket: redeemed once, failures counted to its death, expiry, its namespace only", async () => {
    const { ns, id, codes } = await confirmed();
    const ticket = (name: string, expiresMs = 10_000) => ({
      namespace: ns,
      digest: digest(`${ns}/${name}`),
      userId: id,
      credentialDigest: digest("hash-a"),
      createdMs: 1000,
      expiresMs,
    });
    const t1 = ticket("t1");
    await repo.insertMfaTicket(t1);
    expect(await repo.getMfaTicket(ns, t1.digest, 5000, 5)).toEqual({
      userId: id,
      credentialDigest: t1.credentialDigest,
      failures: 0,
    });
    expect(await repo.getMfaTicket("elsewhere", t1.digest, 5000, 5)).toBeUndefined();
    for (let i = 1; i <= 4; i++) {
      expect(await repo.redeemMfaTicket(ns, t1.digest, 5000, 5, { kind: "none" })).toEqual({
        redeemed: false,
        why: "proof",
      });
      expect((await repo.getMfaTicket(ns, t1.digest, 5000, 5))?.failures).toBe(i);
    }
    expect(await repo.redeemMfaTicket(ns, t1.digest, 5000, 5, { kind: "none" })).toEqual({
      redeemed: false,
      why: "proof",
    });
    // Dead: even a right proof finds no ticket, and the proof is not spent.
    const right: MfaProof = { kind: "recovery_code", digest: codes[0]! };
    expect(await repo.redeemMfaTicket(ns, t1.digest, 5000, 5, right)).toEqual({ redeemed: false, why: "ticket" });
    expect(await repo.countRecoveryCodes(ns, id)).toBe(2);

    const t2 = ticket("t2");
    await repo.insertMfaTicket(t2);
    const many = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        repo.redeemMfaTicket(ns, t2.digest, 5000, 5, { kind: "recovery_code", digest: codes[i % 2]! }),
      ),
    );
    expect(many.filter((r) => r.redeemed)).toHaveLength(1);
    expect(await repo.getMfaTicket(ns, t2.digest, 5000, 5)).toBeUndefined();

    const t3 = ticket("t3", 6000);
    await repo.insertMfaTicket(t3);
    expect(await repo.redeemMfaTicket(ns, t3.digest, 6000, 5, { kind: "none" })).toEqual({
      redeemed: false,
      why: "ticket",
    });
    expect(await repo.sweepMfaTickets(6000, 100)).toBeGreaterThanOrEqual(1);
  });

  test("deleting the user takes the factor, the codes and the tickets", async () => {
    const { ns, id } = await confirmed();
    const t = {
      namespace: ns,
      digest: digest(`${ns}/t`),
      userId: id,
      credentialDigest: digest("h"),
      createdMs: 1,
      expiresMs: 9e12,
    };
    await repo.insertMfaTicket(t);
    expect(await repo.deleteUser(ns, id)).toBe(true);
    expect(await repo.getTotp(ns, id)).toBeUndefined();
    expect(await repo.countRecoveryCodes(ns, id)).toBe(0);
    expect(await repo.getMfaTicket(ns, t.digest, 2, 5)).toBeUndefined();
  });
});
