// Second factors on PostgreSQL (statements in ../mfa-sql.ts). Spending a proof
// is one conditional UPDATE or DELETE: under READ COMMITTED a concurrent
// second use waits for the first's row lock, re-checks its condition and
// changes nothing. Redeeming a ticket locks the ticket row first.
import { MFA_SQL, type TicketRecord, type TotpRecord } from "../mfa-sql.js";
import type { MfaProof, MfaTicketRow, NewMfaTicket, PendingTotpResult, RedeemOutcome, TotpRow } from "../mfa-store.js";
import type { Database, Queryable } from "./database.js";
import { toPositional } from "./named-parameters.js";

async function run<R extends object = Record<string, unknown>>(
  db: Queryable,
  sql: string,
  params: Record<string, unknown>,
): Promise<{ rows: R[]; count: number }> {
  const { text, values } = toPositional(sql, params);
  const result = await db.query(text, values);
  return { rows: result.rows as R[], count: result.rowCount ?? 0 };
}

async function spend(db: Queryable, namespace: string, userId: string, proof: MfaProof): Promise<boolean> {
  if (proof.kind === "totp") {
    const params = { namespace, user_id: userId, sealed: proof.sealedSecret, step: proof.step };
    return (await run(db, MFA_SQL.spendStep, params)).count > 0;
  }
  if (proof.kind === "recovery_code") {
    return (await run(db, MFA_SQL.spendRecoveryCode, { namespace, user_id: userId, digest: proof.digest })).count > 0;
  }
  return false;
}

async function storeCodes(tx: Queryable, namespace: string, userId: string, digests: Buffer[]): Promise<void> {
  await run(tx, MFA_SQL.deleteRecoveryCodes, { namespace, user_id: userId });
  if (digests.length === 0) return;
  await tx.query("INSERT INTO mfa_recovery_codes (namespace, user_id, digest) SELECT $1, $2, unnest($3::bytea[])", [
    namespace,
    userId,
    digests,
  ]);
}

export class PostgresMfa {
  constructor(private readonly db: Database) {}

  async putPendingTotp(namespace: string, userId: string, sealed: string, now: number): Promise<PendingTotpResult> {
    if ((await run(this.db, MFA_SQL.putPendingTotp, { namespace, user_id: userId, sealed, now })).count > 0)
      return "stored";
    const { rows } = await run(this.db, MFA_SQL.isConfirmed, { namespace, user_id: userId });
    return rows.length > 0 ? "enabled" : "no_user";
  }

  async getTotp(namespace: string, userId: string): Promise<TotpRow | undefined> {
    const [row] = (await run<TotpRecord>(this.db, MFA_SQL.getTotp, { namespace, user_id: userId })).rows;
    return (
      row && {
        sealedSecret: row.secret_sealed,
        createdMs: row.created_ms,
        confirmedMs: row.confirmed_ms,
        lastStep: row.last_step,
      }
    );
  }

  confirmTotp(
    namespace: string,
    userId: string,
    sealed: string,
    step: number,
    digests: Buffer[],
    now: number,
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const params = { namespace, user_id: userId, sealed, step, now };
      if ((await run(tx, MFA_SQL.confirmTotp, params)).count === 0) return false;
      await storeCodes(tx, namespace, userId, digests);
      return true;
    });
  }

  spendMfaProof(namespace: string, userId: string, proof: MfaProof): Promise<boolean> {
    return spend(this.db, namespace, userId, proof);
  }

  replaceRecoveryCodes(namespace: string, userId: string, digests: Buffer[]): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // The factor row's lock orders this against a concurrent DisableTotp.
      const { rows } = await tx.query(
        "SELECT 1 FROM mfa_totp WHERE namespace = $1 AND user_id = $2 AND confirmed_ms > 0 FOR UPDATE",
        [namespace, userId],
      );
      if (rows.length === 0) return false;
      await storeCodes(tx, namespace, userId, digests);
      return true;
    });
  }

  async countRecoveryCodes(namespace: string, userId: string): Promise<number> {
    const { rows } = await run<{ n: number }>(this.db, MFA_SQL.countRecoveryCodes, { namespace, user_id: userId });
    return Number(rows[0]?.n ?? 0);
  }

  deleteTotp(namespace: string, userId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const removed = (await run(tx, MFA_SQL.deleteTotp, { namespace, user_id: userId })).count > 0;
      await run(tx, MFA_SQL.deleteRecoveryCodes, { namespace, user_id: userId });
      return removed;
    });
  }

  async insertMfaTicket(t: NewMfaTicket): Promise<void> {
    await run(this.db, MFA_SQL.insertTicket, {
      digest: t.digest,
      namespace: t.namespace,
      user_id: t.userId,
      credential_digest: t.credentialDigest,
      created_ms: t.createdMs,
      expires_ms: t.expiresMs,
    });
  }

  async getMfaTicket(
    namespace: string,
    digest: Buffer,
    now: number,
    maxFailures: number,
  ): Promise<MfaTicketRow | undefined> {
    const params = { namespace, digest, now, max_failures: maxFailures };
    const [row] = (await run<TicketRecord>(this.db, MFA_SQL.getTicket, params)).rows;
    return row && { userId: row.user_id, credentialDigest: row.credential_digest, failures: row.failures };
  }

  redeemMfaTicket(
    namespace: string,
    digest: Buffer,
    now: number,
    maxFailures: number,
    proof: MfaProof,
  ): Promise<RedeemOutcome> {
    return this.db.transaction(async (tx) => {
      // The row lock makes a concurrent redemption of this ticket wait, then find it gone or changed.
      const params = { namespace, digest, now, max_failures: maxFailures };
      const [ticket] = (await run<TicketRecord>(tx, `${MFA_SQL.getTicket} FOR UPDATE`, params)).rows;
      if (!ticket) return { redeemed: false, why: "ticket" };
      if (await spend(tx, namespace, ticket.user_id, proof)) {
        await run(tx, MFA_SQL.deleteTicket, { digest });
        return { redeemed: true, userId: ticket.user_id, credentialDigest: ticket.credential_digest };
      }
      const [{ failures } = { failures: maxFailures }] = (
        await run<{ failures: number }>(tx, MFA_SQL.failTicket, { digest })
      ).rows;
      if (failures >= maxFailures) await run(tx, MFA_SQL.deleteTicket, { digest });
      return { redeemed: false, why: "proof" };
    });
  }

  async sweepMfaTickets(now: number, limit: number): Promise<number> {
    return (await run(this.db, MFA_SQL.sweepTickets, { now, limit })).count;
  }
}
