// Second factors on SQLite (statements in ../mfa-sql.ts). Each write that
// spends a proof is one statement or one transaction: SQLite runs one writer
// at a time, so of two uses of one code exactly one changes a row.
import type { Database as Db } from "better-sqlite3";
import { MFA_SQL, type TicketRecord, type TotpRecord } from "../mfa-sql.js";
import type { MfaProof, MfaTicketRow, NewMfaTicket, PendingTotpResult, RedeemOutcome, TotpRow } from "../mfa-store.js";

export type SqliteMfa = ReturnType<typeof prepareMfa>;

export function prepareMfa(db: Db) {
  const s = Object.fromEntries(Object.entries(MFA_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as {
    [K in keyof typeof MFA_SQL]: ReturnType<Db["prepare"]>;
  };

  const spend = (namespace: string, userId: string, proof: MfaProof): boolean => {
    if (proof.kind === "totp")
      return s.spendStep.run({ namespace, user_id: userId, sealed: proof.sealedSecret, step: proof.step }).changes > 0;
    if (proof.kind === "recovery_code")
      return s.spendRecoveryCode.run({ namespace, user_id: userId, digest: proof.digest }).changes > 0;
    return false;
  };
  const storeCodes = (namespace: string, userId: string, digests: Buffer[]): void => {
    s.deleteRecoveryCodes.run({ namespace, user_id: userId });
    for (const digest of digests) s.insertRecoveryCode.run({ namespace, user_id: userId, digest });
  };

  return {
    putPendingTotp: db.transaction(
      (namespace: string, userId: string, sealed: string, now: number): PendingTotpResult => {
        if (s.putPendingTotp.run({ namespace, user_id: userId, sealed, now }).changes > 0) return "stored";
        return s.isConfirmed.get({ namespace, user_id: userId }) ? "enabled" : "no_user";
      },
    ),
    getTotp: (namespace: string, userId: string): TotpRow | undefined => {
      const row = s.getTotp.get({ namespace, user_id: userId }) as TotpRecord | undefined;
      return (
        row && {
          sealedSecret: row.secret_sealed,
          createdMs: row.created_ms,
          confirmedMs: row.confirmed_ms,
          lastStep: row.last_step,
        }
      );
    },
    confirmTotp: db.transaction(
      (namespace: string, userId: string, sealed: string, step: number, digests: Buffer[], now: number): boolean => {
        if (s.confirmTotp.run({ namespace, user_id: userId, sealed, step, now }).changes === 0) return false;
        storeCodes(namespace, userId, digests);
        return true;
      },
    ),
    spendMfaProof: (namespace: string, userId: string, proof: MfaProof): boolean => spend(namespace, userId, proof),
    replaceRecoveryCodes: db.transaction((namespace: string, userId: string, digests: Buffer[]): boolean => {
      if (!s.isConfirmed.get({ namespace, user_id: userId })) return false;
      storeCodes(namespace, userId, digests);
      return true;
    }),
    countRecoveryCodes: (namespace: string, userId: string): number =>
      (s.countRecoveryCodes.get({ namespace, user_id: userId }) as { n: number }).n,
    deleteTotp: db.transaction((namespace: string, userId: string): boolean => {
      s.deleteRecoveryCodes.run({ namespace, user_id: userId });
      return s.deleteTotp.run({ namespace, user_id: userId }).changes > 0;
    }),
    insertMfaTicket: (t: NewMfaTicket): void => {
      s.insertTicket.run({
        digest: t.digest,
        namespace: t.namespace,
        user_id: t.userId,
        credential_digest: t.credentialDigest,
        created_ms: t.createdMs,
        expires_ms: t.expiresMs,
      });
    },
    getMfaTicket: (namespace: string, digest: Buffer, now: number, maxFailures: number): MfaTicketRow | undefined => {
      const row = s.getTicket.get({ namespace, digest, now, max_failures: maxFailures }) as TicketRecord | undefined;
      return row && { userId: row.user_id, credentialDigest: row.credential_digest, failures: row.failures };
    },
    redeemMfaTicket: db.transaction(
      (namespace: string, digest: Buffer, now: number, maxFailures: number, proof: MfaProof): RedeemOutcome => {
        const ticket = s.getTicket.get({ namespace, digest, now, max_failures: maxFailures }) as
          | TicketRecord
          | undefined;
        if (!ticket) return { redeemed: false, why: "ticket" };
        if (spend(namespace, ticket.user_id, proof)) {
          s.deleteTicket.run({ digest });
          return { redeemed: true, userId: ticket.user_id, credentialDigest: ticket.credential_digest };
        }
        const { failures } = s.failTicket.get({ digest }) as { failures: number };
        if (failures >= maxFailures) s.deleteTicket.run({ digest });
        return { redeemed: false, why: "proof" };
      },
    ),
    sweepMfaTickets: (now: number, limit: number): number => s.sweepTickets.run({ now, limit }).changes,
  };
}
