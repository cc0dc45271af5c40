// The second factors' SQL both engines run unchanged (named parameters, see
// sql.ts); the transactions that combine them live in each engine's mfa.ts.

export const MFA_SQL = {
  /** A pending enrolment for an existing user; never over a confirmed one. */
  putPendingTotp: `INSERT INTO mfa_totp (namespace, user_id, secret_sealed, created_ms, confirmed_ms, last_step)
    SELECT namespace, id, @sealed, @now, 0, -1 FROM users WHERE namespace = @namespace AND id = @user_id
    ON CONFLICT (namespace, user_id) DO UPDATE SET
      secret_sealed = excluded.secret_sealed, created_ms = excluded.created_ms, last_step = -1
    WHERE mfa_totp.confirmed_ms = 0`,
  getTotp: `SELECT secret_sealed, created_ms, confirmed_ms, last_step FROM mfa_totp
    WHERE namespace = @namespace AND user_id = @user_id`,
  confirmTotp: `UPDATE mfa_totp SET confirmed_ms = @now, last_step = @step
    WHERE namespace = @namespace AND user_id = @user_id AND confirmed_ms = 0 AND secret_sealed = @sealed`,
  /** Raising last_step is the replay guard: of two uses of one step, one changes the row. */
  spendStep: `UPDATE mfa_totp SET last_step = @step
    WHERE namespace = @namespace AND user_id = @user_id AND confirmed_ms > 0 AND secret_sealed = @sealed
      AND last_step < @step`,
  spendRecoveryCode: `DELETE FROM mfa_recovery_codes
    WHERE namespace = @namespace AND user_id = @user_id AND digest = @digest`,
  deleteRecoveryCodes: "DELETE FROM mfa_recovery_codes WHERE namespace = @namespace AND user_id = @user_id",
  insertRecoveryCode: `INSERT INTO mfa_recovery_codes (namespace, user_id, digest)
    VALUES (@namespace, @user_id, @digest)`,
  countRecoveryCodes: `SELECT count(*) AS n FROM mfa_recovery_codes
    WHERE namespace = @namespace AND user_id = @user_id`,
  isConfirmed: `SELECT 1 AS one FROM mfa_totp
    WHERE namespace = @namespace AND user_id = @user_id AND confirmed_ms > 0`,
  deleteTotp: "DELETE FROM mfa_totp WHERE namespace = @namespace AND user_id = @user_id",
  insertTicket: `INSERT INTO mfa_tickets (digest, namespace, user_id, credential_digest, created_ms, expires_ms, failures)
    VALUES (@digest, @namespace, @user_id, @credential_digest, @created_ms, @expires_ms, 0)`,
  getTicket: `SELECT user_id, credential_digest, failures FROM mfa_tickets
    WHERE digest = @digest AND namespace = @namespace AND expires_ms > @now AND failures < @max_failures`,
  deleteTicket: "DELETE FROM mfa_tickets WHERE digest = @digest",
  failTicket: "UPDATE mfa_tickets SET failures = failures + 1 WHERE digest = @digest RETURNING failures",
  sweepTickets: `DELETE FROM mfa_tickets WHERE digest IN (
    SELECT digest FROM mfa_tickets WHERE expires_ms <= @now LIMIT @limit)`,
} as const;

export interface TotpRecord {
  secret_sealed: string;
  created_ms: number;
  confirmed_ms: number;
  last_step: number;
}

export interface TicketRecord {
  user_id: string;
  credential_digest: Buffer;
  failures: number;
}
