// Passkeys and ceremony challenges in memory, for MemoryRepository: the same
// observable behaviour as the engines (the storage contract suite holds the
// engines to it).
import type {
  ChallengePurpose,
  NewChallenge,
  PasskeyInsert,
  PasskeyRow,
  TakenChallenge,
} from "../../src/storage/passkey-store.js";

export class MemoryPasskeys {
  private readonly challenges = new Map<string, NewChallenge>();
  /** namespace -> passkeys, in insertion (created) order. */
  private readonly byNamespace = new Map<string, PasskeyRow[]>();

  constructor(private readonly userExists: (namespace: string, userId: string) => boolean) {}

  insertChallenge(c: NewChallenge): void {
    this.challenges.set(c.digest.toString("hex"), { ...c });
  }

  takeChallenge(
    namespace: string,
    digest: Buffer,
    purpose: ChallengePurpose,
    nowMs: number,
  ): TakenChallenge | undefined {
    const key = digest.toString("hex");
    const c = this.challenges.get(key);
    if (!c || c.namespace !== namespace || c.purpose !== purpose) return undefined;
    this.challenges.delete(key);
    return c.expiresMs > nowMs ? { userId: c.userId, ticketDigest: c.ticketDigest } : undefined;
  }

  sweepChallenges(beforeMs: number, limit: number): number {
    let n = 0;
    for (const [key, c] of this.challenges) {
      if (n < limit && c.expiresMs < beforeMs) {
        this.challenges.delete(key);
        n++;
      }
    }
    return n;
  }

  insert(namespace: string, passkey: PasskeyRow, maxPerUser: number): PasskeyInsert {
    if (!this.userExists(namespace, passkey.userId)) return "no_user";
    const rows = this.byNamespace.get(namespace) ?? [];
    if (rows.some((p) => p.credentialId === passkey.credentialId)) return "duplicate";
    if (rows.filter((p) => p.userId === passkey.userId).length >= maxPerUser) return "limit";
    rows.push({ ...passkey });
    this.byNamespace.set(namespace, rows);
    return "inserted";
  }

  list(namespace: string, userId: string): PasskeyRow[] {
    return (this.byNamespace.get(namespace) ?? [])
      .filter((p) => p.userId === userId)
      .sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1))
      .map((p) => ({ ...p }));
  }

  byCredential(namespace: string, credentialId: string): PasskeyRow | undefined {
    const p = (this.byNamespace.get(namespace) ?? []).find((r) => r.credentialId === credentialId);
    return p && { ...p };
  }

  use(namespace: string, id: string, expected: number, newCounter: number, nowMs: number): boolean {
    const p = (this.byNamespace.get(namespace) ?? []).find((r) => r.id === id);
    if (!p || p.counter !== expected) return false;
    p.counter = newCounter;
    p.lastUsedMs = nowMs;
    return true;
  }

  remove(namespace: string, userId: string, id: string): boolean {
    const rows = this.byNamespace.get(namespace) ?? [];
    const at = rows.findIndex((p) => p.id === id && p.userId === userId);
    if (at < 0) return false;
    rows.splice(at, 1);
    return true;
  }

  /** The user's passkeys go with the user (as ON DELETE CASCADE). */
  dropUser(namespace: string, userId: string): void {
    this.byNamespace.set(
      namespace,
      (this.byNamespace.get(namespace) ?? []).filter((p) => p.userId !== userId),
    );
  }
}
