// Binding a queued message's pending token (OutboxStore.bindMailToken), as
// both engines run it (named parameters; PostgreSQL via toPositional). The
// three statements run in one transaction, the first one holding the
// message's row (FOR UPDATE on PostgreSQL; SQLite has one writer).

export const BIND_SQL = {
  /** The message, if this sender still holds it and its token is still pending. */
  held: `SELECT id FROM mail_outbox
    WHERE id = @id AND lease_owner = @owner AND status = 'queued' AND token_purpose <> ''`,
  /**
   * The token, for the user who has the address now, replacing (voiding) the
   * user's previous one of the purpose. Mails are bound in the order they
   * were queued (claims take the oldest first), so the latest Send's token is
   * the one that works; no clock comparison, which skew between replicas
   * would make drop a legitimate mail.
   */
  upsertToken: `INSERT INTO mail_tokens (namespace, purpose, user_id, digest, email, created_ms, expires_ms,
      redirect_url, failure_redirect_url)
    SELECT @namespace, @purpose, id, @digest, email, @created_ms, @expires_ms, @redirect_url, @failure_redirect_url
      FROM users WHERE namespace = @namespace AND email = @email
    ON CONFLICT (namespace, purpose, user_id) DO UPDATE SET
      digest = excluded.digest, email = excluded.email, created_ms = excluded.created_ms,
      expires_ms = excluded.expires_ms, spent_ms = 0, attempts = 0,
      redirect_url = excluded.redirect_url, failure_redirect_url = excluded.failure_redirect_url`,
  bound: `UPDATE mail_outbox SET token_purpose = '', token_digest = NULL, token_redirect_url = '',
      token_failure_redirect_url = ''
    WHERE id = @id`,
  /** Nobody has the address: the message goes, with the address a stranger typed. */
  drop: "DELETE FROM mail_outbox WHERE id = @id",
  /**
   * The sweep's share: expired mail never bound (no sender reached it in
   * time) whose address nobody has is deleted, not kept as given up, so a
   * stranger's typed address does not stay for the retention period.
   */
  dropExpiredUnbound: `DELETE FROM mail_outbox WHERE id IN (
      SELECT o.id FROM mail_outbox o
      WHERE o.status = 'queued' AND o.token_purpose <> '' AND o.expires_ms <= @now AND o.lease_until_ms <= @now
        AND NOT EXISTS (SELECT 1 FROM users u WHERE u.namespace = o.namespace AND u.email = o.recipient)
      LIMIT @limit)`,
} as const;
