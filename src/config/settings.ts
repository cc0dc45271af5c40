// The table of every environment variable the service reads: its default, its
// rule and what it means. `users-service --help` and docs/operations.md print this table.
import { parseDatabaseUrl } from "../storage/database-url.js";
import {
  parseBaseUrl,
  parseDurationSeconds,
  parseEnum,
  parseInteger,
  parseList,
  parseOrigin,
  parseSmtpUrl,
} from "./parsers.js";
import { PASSKEY_SETTINGS } from "./passkey-settings.js";

/** DATABASE_URL query parameters shown as they are in the start-up log; every other value is masked. */
const SHOWN_URL_PARAMETERS = new Set([
  "sslmode",
  "application_name",
  "connect_timeout",
  "options",
  "target_session_attrs",
]);

interface Setting<T> {
  env: string;
  default: string;
  describe: string;
  /** Secrets are masked whenever the configuration is printed. */
  secret?: boolean;
  /** How the value is shown when configuration is logged (defaults to as-is, or *** for secrets). */
  show?: (value: T) => unknown;
  parse(text: string): T;
}

const define = <T>(s: Setting<T>): Setting<T> => s;

/** A file path, or empty for none. */
function parsePath(text: string): string {
  if (text.length > 4096 || text.includes("\0")) throw new Error("must be a file path");
  return text;
}

const SETTING_MAP = {
  port: define({
    env: "PORT",
    default: "8080",
    describe:
      "TCP port for every protocol (HTTP/1.1 and HTTP/2: cleartext, or TLS with TLS_CERT_FILE). 0 picks a free port.",
    parse: parseInteger(0, 65535),
  }),
  host: define({
    env: "HOST",
    default: "0.0.0.0",
    describe: "Address to listen on (0.0.0.0 for all IPv4, :: for all, 127.0.0.1 for local only).",
    parse: (text) => {
      if (!/^[0-9A-Za-z.:-]{1,253}$/.test(text)) throw new Error("must be an IP address or host name");
      return text;
    },
  }),
  databaseUrl: define({
    env: "DATABASE_URL",
    default: "sqlite:./data/users.db",
    describe: "Where data lives: sqlite:PATH (a file, created if missing) or postgres://user:pass@host:port/db.",
    secret: true,
    show: (value: string) => {
      const target = parseDatabaseUrl(value);
      if (target.engine === "sqlite") return value;
      const url = new URL(value);
      if (url.password) url.password = "***";
      // node-postgres also reads secrets from the query (password=,
      // sslpassword=, ...): show only the parameters known to hold none.
      for (const name of [...url.searchParams.keys()]) {
        if (!SHOWN_URL_PARAMETERS.has(name)) url.searchParams.set(name, "***");
      }
      return url.toString();
    },
    parse: (text) => {
      parseDatabaseUrl(text);
      return text;
    },
  }),
  sqliteBusyTimeoutMs: define({
    env: "SQLITE_BUSY_TIMEOUT_MS",
    default: "5000",
    describe:
      "SQLite: how long a write waits for another process (e.g. the CLI) to release the database before the call fails; waiting never blocks other calls.",
    parse: parseInteger(0, 600000),
  }),
  pgPoolSize: define({
    env: "PG_POOL_SIZE",
    default: "10",
    describe: "PostgreSQL: connections per replica.",
    parse: parseInteger(1, 1000),
  }),
  pgStatementTimeoutMs: define({
    env: "PG_STATEMENT_TIMEOUT_MS",
    default: "5000",
    describe: "PostgreSQL: longest a statement (or wait for a pooled connection) may take before the call fails.",
    parse: parseInteger(100, 600000),
  }),
  searchScanMax: define({
    env: "SEARCH_SCAN_MAX",
    default: "10000",
    describe:
      "Search: index entries each step of a search plan may read; a search that no plan answers within it fails with FailedPrecondition (narrow a prefix or lower the offset).",
    parse: parseInteger(10, 1000000),
  }),
  bcryptCost: define({
    env: "BCRYPT_COST",
    default: "12",
    describe: "bcrypt cost factor for new password hashes (each step doubles the work).",
    parse: parseInteger(4, 15),
  }),
  sessionTtlSeconds: define({
    env: "SESSION_TTL_SECONDS",
    default: "604800",
    describe: "How long a session lasts after Login, in seconds (default 7 days).",
    parse: parseDurationSeconds(60, 31536000),
  }),
  bootstrapKey: define({
    env: "USERS_BOOTSTRAP_KEY",
    default: "",
    describe: "An admin API key registered at start (for containers and tests). At least 32 characters.",
    secret: true,
    parse: (text) => {
      if (text === "") return "";
      if (text.length < 32 || text.length > 256) throw new Error("must be 32 to 256 characters");
      if (!/^[\x21-\x7e]+$/.test(text)) throw new Error("must be printable ASCII without spaces");
      return text;
    },
  }),
  adminKeyFile: define({
    env: "ADMIN_KEY_FILE",
    default: "",
    describe:
      "Where the first start writes its admin key when stdout is not a terminal (mode 0600, never over an existing file). Empty: admin-key beside the SQLite database, or ./admin-key with PostgreSQL.",
    parse: (text) => text,
  }),
  encryptionKeyFile: define({
    env: "ENCRYPTION_KEY_FILE",
    default: "",
    describe:
      "File of the keys that encrypt secrets at rest (signing keys, TOTP secrets): mode 0600, one base64 key per line, the first seals. Empty: encryption-keys beside the SQLite database, made on first start. Required with PostgreSQL (every replica shares it); make one with `users-service encryption-keys new FILE`.",
    parse: parsePath,
  }),
  publicSignupOffNamespaces: define({
    env: "PUBLIC_SIGNUP_OFF_NAMESPACES",
    default: "",
    describe: "Comma-separated namespaces whose public keys may not Create users (sign-up off). Empty: none.",
    parse: parseList((text) => {
      if (!/^[a-z0-9_-]{1,63}$/.test(text)) throw new Error(`"${text}" must be 1 to 63 of a-z 0-9 _ -`);
      return text;
    }),
  }),
  publicSignupsPerKey: define({
    env: "PUBLIC_SIGNUPS_PER_KEY",
    default: "100",
    describe: "Sign-ups (Create) one public key may make per PUBLIC_SIGNUP_WINDOW_SECONDS, counted in the database.",
    parse: parseInteger(0, 10_000_000),
  }),
  publicSignupsPerNamespace: define({
    env: "PUBLIC_SIGNUPS_PER_NAMESPACE",
    default: "1000",
    describe: "Sign-ups all public keys of one namespace may make per PUBLIC_SIGNUP_WINDOW_SECONDS.",
    parse: parseInteger(0, 10_000_000),
  }),
  publicSignupWindowSeconds: define({
    env: "PUBLIC_SIGNUP_WINDOW_SECONDS",
    default: "3600",
    describe: "The window the public sign-up limits count in, in seconds.",
    parse: parseDurationSeconds(1, 86400),
  }),
  mailRateWindowSeconds: define({
    env: "MAIL_RATE_WINDOW_SECONDS",
    default: "3600",
    describe: "The window of MAILS_PER_ADDRESS, PUBLIC_MAILS_PER_KEY and PUBLIC_MAILS_PER_NAMESPACE.",
    parse: parseDurationSeconds(1, 7 * 86_400),
  }),
  mailsPerAddress: define({
    env: "MAILS_PER_ADDRESS",
    default: "5",
    describe:
      "Mails (verification, and later reset and magic links) one email address of a namespace may be sent per MAIL_RATE_WINDOW_SECONDS, whatever the key; counted for unknown addresses too.",
    parse: parseInteger(0, 1_000_000),
  }),
  publicMailsPerKey: define({
    env: "PUBLIC_MAILS_PER_KEY",
    default: "100",
    describe: "Mail-sending calls one public key may make per MAIL_RATE_WINDOW_SECONDS.",
    parse: parseInteger(0, 10_000_000),
  }),
  publicMailsPerNamespace: define({
    env: "PUBLIC_MAILS_PER_NAMESPACE",
    default: "1000",
    describe: "Mail-sending calls all public keys of one namespace may make per MAIL_RATE_WINDOW_SECONDS.",
    parse: parseInteger(0, 10_000_000),
  }),
  apiKeyCacheSeconds: define({
    env: "API_KEY_CACHE_SECONDS",
    default: "5",
    describe:
      "How long a replica trusts an API key it has looked up; a key revoked elsewhere stops working within this time. 0: ask the database every call.",
    parse: parseDurationSeconds(0, 3600),
  }),
  maxBodyBytes: define({
    env: "MAX_BODY_BYTES",
    default: "1048576",
    describe: "Largest request body accepted, in bytes; larger requests are refused.",
    parse: parseInteger(1024, 64 * 1048576),
  }),
  maxBufferedBodyBytes: define({
    env: "MAX_BUFFERED_BODY_BYTES",
    default: "268435456",
    describe:
      "Request bodies held in memory at once, all calls together, in bytes; a call that would pass it is refused (ResourceExhausted BODIES_BUSY, retry-after 1).",
    parse: parseInteger(1048576, 64 * 1073741824),
  }),
  maxConnections: define({
    env: "MAX_CONNECTIONS",
    default: "4096",
    describe:
      "Open client connections allowed at once; more are closed when accepted. Keep it below the file-descriptor limit (ulimit -n) less what the database needs. 0: no cap.",
    parse: parseInteger(0, 1000000),
  }),
  maxConnectionsPerAddress: define({
    env: "MAX_CONNECTIONS_PER_ADDRESS",
    default: "256",
    describe:
      "Open connections allowed at once from one client address; more are closed when accepted. Behind a proxy every connection comes from its address: raise it, or 0 for no cap.",
    parse: parseInteger(0, 1000000),
  }),
  tlsCertFile: define({
    env: "TLS_CERT_FILE",
    default: "",
    describe:
      "PEM certificate chain: with TLS_KEY_FILE, the port serves TLS only (ALPN: h2 or http/1.1). SIGHUP reloads both files.",
    parse: parsePath,
  }),
  tlsKeyFile: define({
    env: "TLS_KEY_FILE",
    default: "",
    describe: "PEM private key of TLS_CERT_FILE.",
    parse: parsePath,
  }),
  loginMaxFailures: define({
    env: "LOGIN_MAX_FAILURES",
    default: "5",
    describe: "Consecutive failed logins of one account before it is throttled.",
    parse: parseInteger(1, 1000),
  }),
  loginLockoutBaseSeconds: define({
    env: "LOGIN_LOCKOUT_BASE_SECONDS",
    default: "1",
    describe: "First throttling delay after LOGIN_MAX_FAILURES; it doubles with each further failure.",
    parse: parseDurationSeconds(1, 86400),
  }),
  loginLockoutMaxSeconds: define({
    env: "LOGIN_LOCKOUT_MAX_SECONDS",
    default: "900",
    describe: "Longest throttling delay.",
    parse: parseDurationSeconds(1, 86400),
  }),
  maxSessionsPerUser: define({
    env: "MAX_SESSIONS_PER_USER",
    default: "100",
    describe: "Sessions one user may have; a login beyond it ends that user's oldest session.",
    parse: parseInteger(1, 100000),
  }),
  hashConcurrency: define({
    env: "HASH_CONCURRENCY",
    default: "0",
    describe: "Password hashes computed at once (0 = number of CPU cores).",
    parse: parseInteger(0, 64),
  }),
  hashQueueMax: define({
    env: "HASH_QUEUE_MAX",
    default: "64",
    describe:
      "Password hashes allowed to wait; beyond it Login/Create/UpdatePassword fail fast with RESOURCE_EXHAUSTED.",
    parse: parseInteger(0, 100000),
  }),
  corsOrigins: define({
    env: "CORS_ORIGINS",
    default: "",
    describe:
      "Comma-separated browser origins allowed to call cross-origin (e.g. https://app.example.com). Empty: none.",
    parse: parseList(parseOrigin),
  }),
  smtpUrl: define({
    env: "SMTP_URL",
    default: "",
    describe:
      "Mail server: smtp://[user:pass@]host[:port] (STARTTLS when offered) or smtps://... (TLS). Empty: mail is written as files (MAIL_DIR).",
    secret: true,
    show: (value: string) => {
      if (value === "") return "";
      const url = new URL(value);
      if (url.username) url.username = "***";
      if (url.password) url.password = "***";
      url.search = "";
      return url.toString();
    },
    parse: parseSmtpUrl,
  }),
  mailFrom: define({
    env: "MAIL_FROM",
    default: "accounts@localhost",
    describe: "The sender address of every mail (the display name is the caller's from_name).",
    parse: (text) => {
      if (!/^[^\s@<>"]{1,64}@[^\s@<>"]{1,253}$/.test(text))
        throw new Error("must be an address like accounts@example.com");
      return text;
    },
  }),
  mailDir: define({
    env: "MAIL_DIR",
    default: "",
    describe:
      "Without SMTP_URL, the folder mail is written to as .eml files. Empty: beside the SQLite database (mail/), or ./data/mail with PostgreSQL.",
    parse: (text) => text,
  }),
  mailMaxAttempts: define({
    env: "MAIL_MAX_ATTEMPTS",
    default: "10",
    describe: "Delivery attempts of one mail (with exponential backoff) before it is given up.",
    parse: parseInteger(1, 100),
  }),
  mailLeaseSeconds: define({
    env: "MAIL_LEASE_SECONDS",
    default: "120",
    describe:
      "How long a replica holds a mail it is delivering; a replica that dies mid-delivery leaves the mail to others after this. Longer than one delivery can take (SMTP timeouts: 50 s).",
    parse: parseDurationSeconds(5, 3600),
  }),
  publicUrl: define({
    env: "PUBLIC_URL",
    default: "http://localhost:8080",
    describe: "The service's own external base URL, for the links in mails (e.g. https://users.example.com).",
    parse: parseBaseUrl,
  }),
  redirectOrigins: define({
    env: "REDIRECT_ORIGINS",
    default: "",
    describe:
      "Comma-separated origins that redirect_url and failure_redirect_url may point to (e.g. https://app.example.com). Empty: none.",
    parse: parseList(parseOrigin),
  }),
  verificationTtlSeconds: define({
    env: "VERIFICATION_TTL_SECONDS",
    default: "86400",
    describe: "How long an email verification link works (default 24 hours).",
    parse: parseDurationSeconds(60, 7 * 86400),
  }),
  // Second factors (docs/mfa.md)
  totpIssuer: define({
    env: "TOTP_ISSUER",
    default: "users",
    describe:
      "The issuer an authenticator app shows beside a TOTP account (in EnrollTotp's otpauth:// URI). 1-64 printable characters, no colon.",
    parse: (text) => {
      // Printable ASCII and beyond, no colon (it separates issuer and label in the URI).
      if (text.length > 64 || !/^[^:]+$/u.test(text) || [...text].some((c) => c.charCodeAt(0) < 0x20 || c === "\x7f"))
        throw new Error("must be 1-64 printable characters, without ':'");
      return text;
    },
  }),
  // --- Events and webhooks (docs/webhooks.md) ---
  eventRetentionDays: define({
    env: "EVENT_RETENTION_DAYS",
    default: "90",
    describe: "How long events (the audit log) are kept; older ones are deleted by the sweeper.",
    parse: parseInteger(1, 36500),
  }),
  webhookAllowPrivate: define({
    env: "WEBHOOK_ALLOW_PRIVATE",
    default: "false",
    describe:
      "true: webhook URLs may point to private, loopback, link-local and other special-purpose addresses (checked when added and at every delivery). Only for a trusted internal network.",
    parse: (text) => parseEnum(["true", "false"] as const)(text) === "true",
  }),
  webhookTimeoutSeconds: define({
    env: "WEBHOOK_TIMEOUT_SECONDS",
    default: "10",
    describe: "How long one webhook delivery may take (connect, send, answer) before it counts as failed.",
    parse: parseDurationSeconds(1, 60),
  }),
  webhookMaxAttempts: define({
    env: "WEBHOOK_MAX_ATTEMPTS",
    default: "12",
    describe:
      "Attempts at one delivery (exponential backoff from WEBHOOK_RETRY_BASE_MS, at most an hour apart) before it is given up.",
    parse: parseInteger(1, 50),
  }),
  webhookRetryBaseMs: define({
    env: "WEBHOOK_RETRY_BASE_MS",
    default: "5000",
    describe: "Delay before the first retry of a failed delivery; doubles with each attempt, up to an hour.",
    parse: parseInteger(10, 3_600_000),
  }),
  webhookDisableAfter: define({
    env: "WEBHOOK_DISABLE_AFTER",
    default: "50",
    describe: "An endpoint whose deliveries fail this many times in a row is disabled (webhooks list shows why).",
    parse: parseInteger(1, 100_000),
  }),
  // ---- Account recovery (docs/mail.md) ----
  passwordResetMaxTtlSeconds: define({
    env: "PASSWORD_RESET_MAX_TTL_SECONDS",
    default: "3600",
    describe:
      "The longest a password reset code works: a longer `expiration` is cut to it (the default expiration is 1800 seconds, or this if shorter).",
    parse: parseDurationSeconds(60, 86400),
  }),
  magicLinkTtlSeconds: define({
    env: "MAGIC_LINK_TTL_SECONDS",
    default: "600",
    describe: "How long a magic sign-in link works (default 10 minutes).",
    parse: parseDurationSeconds(60, 3600),
  }),
  // Access tokens (docs/tokens.md)
  accessTokenTtlSeconds: define({
    env: "ACCESS_TOKEN_TTL_SECONDS",
    default: "300",
    describe:
      "How long an access token from CreateToken is valid (never past its session's end). A revoked session's tokens stay valid this long.",
    parse: parseDurationSeconds(10, 86400),
  }),
  jwksMaxAgeSeconds: define({
    env: "JWKS_MAX_AGE_SECONDS",
    default: "300",
    describe:
      "Cache-Control max-age of /.well-known/jwks.json. A rotated key is published this long (plus SIGNING_KEY_RELOAD_SECONDS and 60 s) before it signs.",
    parse: parseDurationSeconds(0, 86400),
  }),
  signingKeyReloadSeconds: define({
    env: "SIGNING_KEY_RELOAD_SECONDS",
    default: "30",
    describe: "How often each replica reads the signing keys from the database (picks up `signing-keys rotate`).",
    parse: parseDurationSeconds(1, 3600),
  }),
  logLevel: define({
    env: "LOG_LEVEL",
    default: "info",
    describe: "Log level: fatal, error, warn, info, debug, trace or silent.",
    parse: parseEnum(["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const),
  }),
  // --- HTTP timeouts (issue 12) ---
  httpHeadersTimeoutSeconds: define({
    env: "HTTP_HEADERS_TIMEOUT_SECONDS",
    default: "30",
    describe:
      "Time a client has to send a request's headers (HTTP/1.1; also a TLS handshake and a new connection's first bytes); past it: 408 and the connection is closed (1–3600 s).",
    parse: parseDurationSeconds(1, 3600),
  }),
  httpRequestTimeoutSeconds: define({
    env: "HTTP_REQUEST_TIMEOUT_SECONDS",
    default: "60",
    describe:
      "Time a client has to send a whole request, body included (HTTP/1.1: 408 and the connection is closed; HTTP/2: the stream is reset). At least HTTP_HEADERS_TIMEOUT_SECONDS (1–3600 s).",
    parse: parseDurationSeconds(1, 3600),
  }),
  httpKeepAliveTimeoutSeconds: define({
    env: "HTTP_KEEP_ALIVE_TIMEOUT_SECONDS",
    default: "65",
    describe:
      "How long an idle HTTP/1.1 keep-alive connection is kept open for a next request (longer than a load balancer's idle timeout; 1–3600 s).",
    parse: parseDurationSeconds(1, 3600),
  }),
  http2IdleTimeoutSeconds: define({
    env: "HTTP2_IDLE_TIMEOUT_SECONDS",
    default: "65",
    describe:
      "How long an HTTP/2 connection with no open stream and no frame is kept open (an open stream, such as a health Watch, keeps it; 1–3600 s).",
    parse: parseDurationSeconds(1, 3600),
  }),
  // --- Call log sampling (issue 12's speed work) ---
  logCalls: define({
    env: "LOG_CALLS",
    default: "sample",
    describe:
      "Which finished calls get a log line: all; errors (failed or slow calls only); sample (every failed or slow call, and successful ones up to LOG_CALLS_PER_SECOND a second, the rest counted in the next line's unlogged_calls). Metrics count every call whatever this says.",
    parse: parseEnum(["all", "errors", "sample"] as const),
  }),
  logCallsPerSecond: define({
    env: "LOG_CALLS_PER_SECOND",
    default: "100",
    describe: "With LOG_CALLS=sample: successful calls logged per second at most (1–1000000).",
    parse: parseInteger(1, 1_000_000),
  }),
  logSlowCallMs: define({
    env: "LOG_SLOW_CALL_MS",
    default: "1000",
    describe: "A call that takes at least this long (ms) is logged whatever LOG_CALLS says (1–3600000).",
    parse: parseInteger(1, 3_600_000),
  }),
  shutdownTimeoutSeconds: define({
    env: "SHUTDOWN_TIMEOUT_SECONDS",
    default: "10",
    describe: "On SIGTERM/SIGINT: how long in-flight calls may take to finish before the process exits.",
    parse: parseDurationSeconds(0, 600),
  }),
  ...PASSKEY_SETTINGS,
};

type SettingMap = typeof SETTING_MAP;
export type SettingKey = keyof SettingMap;
export type SettingValues = { [K in SettingKey]: ReturnType<SettingMap[K]["parse"]> };

export interface SettingEntry {
  key: SettingKey;
  env: string;
  default: string;
  describe: string;
  secret: boolean;
  show?: (value: never) => unknown;
  parse(text: string): unknown;
}

export const SETTINGS: SettingEntry[] = Object.entries(SETTING_MAP).map(([key, s]) => ({
  ...(s as Setting<unknown>),
  key: key as SettingKey,
  secret: (s as Setting<unknown>).secret ?? false,
}));
