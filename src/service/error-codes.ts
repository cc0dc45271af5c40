// The catalogue of error reasons: every error the service answers names one
// of these stable, machine-readable reasons (sent as google.rpc.ErrorInfo in
// the domain ERROR_DOMAIN), and its message is written here and nowhere else.
// A reason never changes meaning once published: add a new one instead.
// docs/api.md's Errors section lists them (a test keeps the two equal).

export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "unauthenticated"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "unavailable"
  | "deadline_exceeded"
  | "internal";

/** The ErrorInfo domain of every reason below. */
export const ERROR_DOMAIN = "users.v1";

/** What a message may say beyond its fixed text. Never a secret or a caller's value. */
export interface ReasonParams {
  /** The request field the error is about (snake_case, as in the .proto). */
  field?: string;
  /** The rule the field breaks, in words ("must be at most 254 characters"). */
  rule?: string;
  /** Seconds after which a retry may succeed. */
  retryAfterSeconds?: number;
  /** The namespace an API key is limited to. */
  namespace?: string;
  /** SEARCH_SCAN_MAX: the index entries one Search may read. */
  scanMax?: number;
  /** The caller's API key role (admin, service, public). */
  role?: string;
  /** The RPC called, as named in the contract's service descriptor. */
  rpc?: string;
  /** What a rate limit counts over ("with this API key", "in this namespace"). */
  scope?: string;
  /** A count a limit allows (passkeys per user). */
  max?: number;
}

interface ReasonSpec {
  code: ErrorCode;
  /** When it happens, for the table in docs/api.md. */
  when: string;
  message: (p: ReasonParams) => string;
}

/** "field: rule", or the rule alone when no field is named. */
const fieldRule = (p: ReasonParams): string => (p.field ? `${p.field}: ${p.rule ?? "invalid"}` : (p.rule ?? "invalid"));

export const REASONS = {
  FIELD_REQUIRED: { code: "invalid_argument", when: "a required field is empty", message: fieldRule },
  FIELD_TOO_LONG: { code: "invalid_argument", when: "a field is longer than its limit", message: fieldRule },
  FIELD_TOO_SHORT: {
    code: "invalid_argument",
    when: "a new password is shorter than 8 characters",
    message: fieldRule,
  },
  FIELD_MALFORMED: {
    code: "invalid_argument",
    when: "a field's text is not of its shape (username, email, id, namespace, handle, bcrypt hash)",
    message: fieldRule,
  },
  FIELD_OUT_OF_RANGE: {
    code: "invalid_argument",
    when: "a number is outside its range (limit, offset, a timestamp, a bcrypt cost)",
    message: fieldRule,
  },
  ONE_OF_FIELDS: {
    code: "invalid_argument",
    when: "a call that takes exactly one of several fields (Read: id, username, email) got none or more than one",
    message: fieldRule,
  },
  PASSWORDS_DIFFER: {
    code: "invalid_argument",
    when: "confirm_password is not equal to new_password",
    message: () => "confirm_password: must equal new_password",
  },
  REDIRECT_NOT_ALLOWED: {
    code: "invalid_argument",
    when: "a redirect_url or failure_redirect_url whose origin is not in REDIRECT_ORIGINS",
    message: fieldRule,
  },
  TOKEN_INVALID: {
    code: "invalid_argument",
    when: "a verification token or password reset code that is unknown, used, voided or expired, or a reset for an unknown email (which one is never said)",
    message: () => "invalid or expired",
  },
  PAGE_TOKEN_INVALID: {
    code: "invalid_argument",
    when: "a List page_token that is not of the shape of a next_page_token (a well-formed one made by hand only moves where the page starts)",
    message: (p) => `${p.field ?? "page_token"}: not a page token this service issued; start again without one`,
  },
  REQUEST_MALFORMED: {
    code: "invalid_argument",
    when: "the request body cannot be decoded (not JSON, not protobuf, a value of the wrong type); never quotes it",
    message: fieldRule,
  },
  USER_NOT_FOUND: { code: "not_found", when: "no user with that id in the namespace", message: () => "user not found" },
  SESSION_NOT_FOUND: {
    code: "not_found",
    when: "no live session with that id (unknown, expired or ended)",
    message: () => "session not found",
  },
  API_KEY_NOT_FOUND: {
    code: "not_found",
    when: "no active API key with that id (`keys revoke`)",
    message: () => "active API key not found",
  },
  // --- Webhooks (docs/webhooks.md) ---
  WEBHOOK_NOT_FOUND: {
    code: "not_found",
    when: "no webhook endpoint with that id (`webhooks remove`, DeleteWebhook)",
    message: () => "webhook endpoint not found",
  },
  ALREADY_TAKEN: {
    code: "already_exists",
    when: "the id, username or email (the field) is taken in the namespace",
    message: (p) => `${p.field}: already taken in this namespace`,
  },
  API_KEY_INVALID: {
    code: "unauthenticated",
    when: "no API key, or not a live one",
    message: () => "a valid API key is required: authorization: Bearer <key>",
  },
  // Login's one answer for an unknown account and a wrong password alike.
  INVALID_CREDENTIALS: {
    code: "unauthenticated",
    when: "Login with an unknown account or a wrong password (which one is never said)",
    message: () => "invalid credentials",
  },
  OLD_PASSWORD_WRONG: {
    code: "unauthenticated",
    when: "UpdatePassword's old_password is not the current password",
    message: () => "old_password: does not match the current password",
  },
  ACCOUNT_DISABLED: {
    code: "permission_denied",
    when: "Login or UpdatePassword with the right password, or FinishPasskeyLogin with a valid assertion, of a disabled account (a wrong password or assertion stays INVALID_CREDENTIALS or OLD_PASSWORD_WRONG)",
    message: () => "this account is disabled",
  },
  NAMESPACE_FORBIDDEN: {
    code: "permission_denied",
    when: "a namespace-scoped key used for another namespace",
    message: (p) => `this API key may only be used for namespace "${p.namespace}"`,
  },
  LOGIN_THROTTLED: {
    code: "resource_exhausted",
    when: "too many failed attempts for the account: locked for a while (retry-after)",
    message: (p) => `too many failed attempts for this account; retry in ${p.retryAfterSeconds} s`,
  },
  SEARCH_TOO_BROAD: {
    code: "failed_precondition",
    when: "a Search no plan can answer within SEARCH_SCAN_MAX index entries (two broad prefixes that seldom meet, a deep offset)",
    message: (p) =>
      `search: too broad to answer within ${p.scanMax} index entries; narrow a prefix or lower the offset`,
  },
  ROLE_FORBIDDEN: {
    code: "permission_denied",
    when: "the API key's role may not call this RPC (see the roles table)",
    message: (p) => `a ${p.role} API key may not call ${p.rpc}`,
  },
  SESSION_PROOF_REQUIRED: {
    code: "permission_denied",
    when: "a public key's call about a user without a live session of that user in x-session-id",
    message: (p) => `a public API key may call ${p.rpc} only for the user of the live session in x-session-id`,
  },
  PUBLIC_MAIL_TEXT_FORBIDDEN: {
    code: "permission_denied",
    when: "a public key's mail-sending call that sets subject, text_content or from_name (only the service's own texts go out)",
    message: (p) => `${p.field}: a public API key may not set a mail's text; leave it empty for the service's own`,
  },
  PUBLIC_SIGNUP_OFF: {
    code: "permission_denied",
    when: "Create with a public key in a namespace listed in PUBLIC_SIGNUP_OFF_NAMESPACES",
    message: (p) => `sign-up with a public API key is off for namespace "${p.namespace}"`,
  },
  SIGNUP_RATE_LIMITED: {
    code: "resource_exhausted",
    when: "too many sign-ups with one public key, or in one namespace, in the window (retry-after)",
    message: (p) => `too many sign-ups ${p.scope}; retry in ${p.retryAfterSeconds} s`,
  },
  MAIL_RATE_LIMITED: {
    code: "resource_exhausted",
    when: "too many mails to one address, or mail-sending calls by one public key or namespace, in the window (retry-after)",
    message: (p) => `too many mails ${p.scope}; retry in ${p.retryAfterSeconds} s`,
  },
  LOGIN_BUSY: {
    code: "resource_exhausted",
    when: "as many sign-in checks of the account are in progress as it has attempts left, for longer than the wait (retry-after)",
    message: () => "too many sign-in attempts in progress for this account; retry in 1 s",
  },
  HASHING_BUSY: {
    code: "resource_exhausted",
    when: "every password-hashing slot and queue place is taken (retry-after)",
    message: () => "the service is busy hashing passwords; retry shortly",
  },
  BODY_TOO_LARGE: {
    code: "resource_exhausted",
    when: "the request body is over MAX_BODY_BYTES",
    message: (p) => `request body: ${p.rule ?? "too large"}`,
  },
  BODIES_BUSY: {
    code: "resource_exhausted",
    when: "the request bodies the server holds at once have reached MAX_BUFFERED_BODY_BYTES (retry-after)",
    message: () => "the server is holding too many request bodies; retry shortly",
  },
  PASSWORD_CHANGED_CONCURRENTLY: {
    code: "aborted",
    when: "another UpdatePassword changed the password meanwhile; retry",
    message: () => "the password was changed by another request meanwhile; retry",
  },
  // Second factors (docs/mfa.md)
  MFA_CODE_INVALID: {
    code: "unauthenticated",
    when: "a TOTP code or recovery code that is wrong, already used, or for a factor the user does not have",
    message: () => "invalid code",
  },
  MFA_TICKET_INVALID: {
    code: "unauthenticated",
    when: "an mfa_ticket that is unknown, used, expired or dead after 5 wrong codes (which one is never said); sign in again",
    message: () => "invalid or expired mfa_ticket; sign in again",
  },
  TOTP_ALREADY_ENABLED: {
    code: "failed_precondition",
    when: "EnrollTotp or ConfirmTotp for a user whose TOTP is already on (DisableTotp first)",
    message: () => "TOTP is already enabled for this user",
  },
  TOTP_NOT_PENDING: {
    code: "failed_precondition",
    when: "ConfirmTotp with no pending enrolment (EnrollTotp first)",
    message: () => "no pending TOTP enrolment for this user; call EnrollTotp first",
  },
  TOTP_NOT_ENABLED: {
    code: "failed_precondition",
    when: "DisableTotp or RegenerateRecoveryCodes for a user without confirmed TOTP",
    message: () => "TOTP is not enabled for this user",
  },
  DATABASE_UNAVAILABLE: {
    code: "unavailable",
    when: "the database is unreachable; retry",
    message: () => "the database is unavailable; retry shortly",
  },
  DATABASE_TIMEOUT: {
    code: "deadline_exceeded",
    when: "the database did not answer in time (a lock held too long); retry",
    message: () => "the database did not answer in time; retry",
  },
  // Passkeys (WebAuthn): docs/mfa.md
  PASSKEYS_OFF: {
    code: "failed_precondition",
    when: "a passkey RPC while passkeys are off (RP_ORIGINS is not set)",
    message: () => "passkeys are off on this service (RP_ORIGINS is not set)",
  },
  PASSKEY_CHALLENGE_INVALID: {
    code: "invalid_argument",
    when: "a passkey ceremony whose challenge is unknown, used, expired or another's (start again with Begin)",
    message: () => "the passkey challenge is invalid or expired; start again",
  },
  PASSKEY_RESPONSE_INVALID: {
    code: "invalid_argument",
    when: "a passkey registration the browser's answer does not verify (origin, RP ID, user verification, attestation)",
    message: fieldRule,
  },
  PASSKEY_ALREADY_REGISTERED: {
    code: "already_exists",
    when: "a passkey registration of a credential already registered in the namespace",
    message: () => "this passkey is already registered",
  },
  PASSKEY_LIMIT_REACHED: {
    code: "failed_precondition",
    when: "a passkey registration for a user who has the most passkeys allowed (remove one first)",
    message: (p) => `a user may have at most ${p.max} passkeys; remove one first`,
  },
  PASSKEY_NOT_FOUND: {
    code: "not_found",
    when: "no passkey with that id for the user",
    message: () => "passkey not found",
  },
  INTERNAL: {
    code: "internal",
    when: "a bug: the detail goes to the log with the request id, never to the caller",
    message: () => "internal error",
  },
} as const satisfies Record<string, ReasonSpec>;

export type Reason = keyof typeof REASONS;

/** Reasons of a field breaking its rule: they carry the field and the rule. */
export type ValidationReason =
  | "FIELD_REQUIRED"
  | "FIELD_TOO_LONG"
  | "FIELD_TOO_SHORT"
  | "FIELD_MALFORMED"
  | "FIELD_OUT_OF_RANGE"
  | "ONE_OF_FIELDS"
  | "REDIRECT_NOT_ALLOWED";

export function isReason(name: string): name is Reason {
  return Object.hasOwn(REASONS, name);
}

/** The one place a reason's message is written. */
export function reasonMessage(reason: Reason, params: ReasonParams = {}): string {
  return (REASONS[reason] as ReasonSpec).message(params);
}
