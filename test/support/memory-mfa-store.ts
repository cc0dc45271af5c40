// Second factors in memory, with the engines' observable behaviour (the
// storage contract suite holds the real engines to it): part of
// MemoryRepository, which tells it which users exist.
import type {
  MfaProof,
  MfaStore,
  MfaTicketRow,
  NewMfaTicket,
  PendingTotpResult,
  RedeemOutcome,
  TotpRow,
} from "../../src/storage/mfa-store.js";

const key = (namespace: string, userId: string) => `${namespace}\n${userId}`;

export class MemoryMfaStore implements MfaStore {
  private readonly totp = new Map<string, TotpRow>();
  private readonly codes = new Map<string, Set<string>>();
  private readonly tickets = new Map<string, NewMfaTicket & { failures: number }>();

  constructor(private readonly userExists: (namespace: string, userId: string) => boolean) {}

  /** The user went: their factors go too (ON DELETE CASCADE). */
  forgetUser(namespace: string, userId: string): void {
    this.totp.delete(key(namespace, userId));
    this.codes.delete(key(namespace, userId));
    for (const [k, t] of this.tickets) if (t.namespace === namespace && t.userId === userId) this.tickets.delete(k);
  }

  async putPendingTotp(namespace: string, userId: string, sealedSecret: string, nowMs: number) {
    const current = this.totp.get(key(namespace, userId));
    if (current && current.confirmedMs > 0) return "enabled" satisfies PendingTotpResult;
    if (!this.userExists(namespace, userId)) return "no_user" satisfies PendingTotpResult;
    this.totp.set(key(namespace, userId), { sealedSecret, createdMs: nowMs, confirmedMs: 0, lastStep: -1 });
    return "stored" satisfies PendingTotpResult;
  }

  async getTotp(namespace: string, userId: string): Promise<TotpRow | undefined> {
    const row = this.totp.get(key(namespace, userId));
    return row && { ...row };
  }

  async confirmTotp(namespace: string, userId: string, sealed: string, step: number, digests: Buffer[], now: number) {
    const row = this.totp.get(key(namespace, userId));
    if (row?.confirmedMs !== 0 || row.sealedSecret !== sealed) return false;
    row.confirmedMs = now;
    row.lastStep = step;
    this.codes.set(key(namespace, userId), new Set(digests.map((d) => d.toString("hex"))));
    return true;
  }

  async spendMfaProof(namespace: string, userId: string, proof: MfaProof): Promise<boolean> {
    if (proof.kind === "totp") {
      const row = this.totp.get(key(namespace, userId));
      if (!row || row.confirmedMs === 0 || row.sealedSecret !== proof.sealedSecret || row.lastStep >= proof.step)
        return false;
      row.lastStep = proof.step;
      return true;
    }
    if (proof.kind === "recovery_code")
      return this.codes.get(key(namespace, userId))?.delete(proof.digest.toString("hex")) ?? false;
    return false;
  }

  async replaceRecoveryCodes(namespace: string, userId: string, digests: Buffer[]): Promise<boolean> {
    if (!((this.totp.get(key(namespace, userId))?.confirmedMs ?? 0) > 0)) return false;
    this.codes.set(key(namespace, userId), new Set(digests.map((d) => d.toString("hex"))));
    return true;
  }

  async countRecoveryCodes(namespace: string, userId: string): Promise<number> {
    return this.codes.get(key(namespace, userId))?.size ?? 0;
  }

  async deleteTotp(namespace: string, userId: string): Promise<boolean> {
    this.codes.delete(key(namespace, userId));
    return this.totp.delete(key(namespace, userId));
  }

  async insertMfaTicket(ticket: NewMfaTicket): Promise<void> {
    this.tickets.set(ticket.digest.toString("hex"), { ...ticket, failures: 0 });
  }

  async getMfaTicket(namespace: string, digest: Buffer, nowMs: number, maxFailures: number) {
    const t = this.tickets.get(digest.toString("hex"));
    if (!t || t.namespace !== namespace || t.expiresMs <= nowMs || t.failures >= maxFailures) return undefined;
    return { userId: t.userId, credentialDigest: t.credentialDigest, failures: t.failures } satisfies MfaTicketRow;
  }

  async redeemMfaTicket(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    maxFailures: number,
    proof: MfaProof,
  ): Promise<RedeemOutcome> {
    const t = await this.getMfaTicket(namespace, digest, nowMs, maxFailures);
    if (!t) return { redeemed: false, why: "ticket" };
    const stored = this.tickets.get(digest.toString("hex"))!;
    if (await this.spendMfaProof(namespace, t.userId, proof)) {
      this.tickets.delete(digest.toString("hex"));
      return { redeemed: true, userId: t.userId, credentialDigest: t.credentialDigest };
    }
    stored.failures += 1;
    if (stored.failures >= maxFailures) this.tickets.delete(digest.toString("hex"));
    return { redeemed: false, why: "proof" };
  }

  async sweepMfaTickets(nowMs: number, limit: number): Promise<number> {
    let n = 0;
    for (const [k, t] of this.tickets) {
      if (n >= limit) break;
      if (t.expiresMs <= nowMs) {
        this.tickets.delete(k);
        n++;
      }
    }
    return n;
  }
}
