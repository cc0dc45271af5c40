// The one place the services are put together: from the settings, a
// repository and a clock. The server and the tests both call it, so what runs
// in a test is wired exactly as what runs in production.
import os from "node:os";
import type { Config } from "../config/config.js";
import { relyingParty } from "../config/passkey-settings.js";
import type { Repository } from "../storage/repository.js";
import { AccessPolicy } from "./access.js";
import { AccessTokensService } from "./access-tokens.js";
import { AuditService } from "./audit.js";
import { KeysService } from "./keys.js";
import { LoginThrottle } from "./login-throttle.js";
import { MagicLinkService } from "./magic-link.js";
import { type MfaDeps, MfaService } from "./mfa.js";
import { MfaTickets } from "./mfa-ticket.js";
import { PasskeysService, type PasskeyWarning } from "./passkeys.js";
import { BcryptHasher, type HashTiming } from "./password-hasher.js";
import { PasswordResetService } from "./password-reset.js";
import { PasswordsService } from "./passwords.js";
import { SecretBox } from "./secret-box.js";
import { SessionsService } from "./sessions.js";
import { SigningKeyRing } from "./signing-keys.js";
import { UsersService } from "./users.js";
import { VerificationService } from "./verification.js";
import { WebhooksService } from "./webhooks.js";
import { WorkQueue } from "./work-queue.js";

/** The settings the services read. */
export type ServiceSettings = Pick<
  Config,
  | "bcryptCost"
  | "hashConcurrency"
  | "hashQueueMax"
  | "sessionTtlSeconds"
  | "maxSessionsPerUser"
  | "apiKeyCacheSeconds"
  | "loginMaxFailures"
  | "loginLockoutBaseSeconds"
  | "loginLockoutMaxSeconds"
  | "publicSignupOffNamespaces"
  | "publicSignupsPerKey"
  | "publicSignupsPerNamespace"
  | "publicSignupWindowSeconds"
  | "mailRateWindowSeconds"
  | "mailsPerAddress"
  | "publicMailsPerKey"
  | "publicMailsPerNamespace"
> &
  // Mail settings: tests that send no mail may leave them out.
  Partial<
    Pick<
      Config,
      | "publicUrl"
      | "redirectOrigins"
      | "verificationTtlSeconds"
      | "passwordResetMaxTtlSeconds"
      | "magicLinkTtlSeconds"
      | "totpIssuer"
    >
  > &
  // Webhooks: private addresses refused when left out.
  Partial<Pick<Config, "webhookAllowPrivate">> &
  // Passkey settings: absent means passkeys are off.
  Partial<Pick<Config, "rpId" | "rpName" | "rpOrigins">> &
  // Access tokens: defaults when left out (ACCESS_TOKEN_TTL_SECONDS, JWKS_MAX_AGE_SECONDS, SIGNING_KEY_RELOAD_SECONDS).
  Partial<Pick<Config, "accessTokenTtlSeconds" | "jwksMaxAgeSeconds" | "signingKeyReloadSeconds">>;

export interface ServiceDeps {
  settings: ServiceSettings;
  repo: Repository;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Observes each hash's duration (metrics). */
  hashTiming?: HashTiming;
  /** Told when a call committed a mail to the outbox (wakes the sender). */
  onMailQueued?: () => void;
  /** Seals secrets stored for reading back (ENCRYPTION_KEY_FILE); a fresh random key when left out. */
  secrets?: SecretBox;
  /** Told when a service or admin key removed a user's second factor without a code (logged). */
  onMfaAdminRemoval?: MfaDeps["onAdminRemoval"];
  /** Told what the operator should hear about (a passkey counter that went backwards). */
  warn?: PasskeyWarning;
  /** Told of every access token issued (metrics). */
  onTokenIssued?: () => void;
  /** Told when an admin added a webhook endpoint (wakes the sender). */
  onWebhookAdded?: () => void;
}

export interface Services {
  hasher: BcryptHasher;
  throttle: LoginThrottle;
  keys: KeysService;
  users: UsersService;
  sessions: SessionsService;
  passwords: PasswordsService;
  /** Which API key role may call which RPC, and a public key's proof. */
  access: AccessPolicy;
  /** Seals secrets at rest (signing keys, TOTP secrets). */
  secrets: SecretBox;
  verification: VerificationService;
  /** Second factors: TOTP, recovery codes, VerifyMfa (docs/mfa.md). */
  mfa: MfaService;
  audit: AuditService;
  webhooks: WebhooksService;
  passkeys: PasskeysService;
  passwordReset: PasswordResetService;
  magicLinks: MagicLinkService;
  /** The keys that sign access tokens (start() loads them; the server calls it at start). */
  signingKeys: SigningKeyRing;
  accessTokens: AccessTokensService;
}

export function buildServices({
  settings,
  repo,
  now,
  hashTiming,
  onMailQueued,
  secrets = SecretBox.ephemeral(),
  onMfaAdminRemoval,
  warn,
  onTokenIssued,
  onWebhookAdded,
}: ServiceDeps): Services {
  // HASH_CONCURRENCY=0 means one hash per core.
  const queue = new WorkQueue(settings.hashConcurrency || os.availableParallelism(), settings.hashQueueMax);
  const hasher = new BcryptHasher({ cost: settings.bcryptCost, queue, timing: hashTiming });
  const throttle = new LoginThrottle({
    repo,
    settings: {
      maxFailures: settings.loginMaxFailures,
      baseLockSeconds: settings.loginLockoutBaseSeconds,
      maxLockSeconds: settings.loginLockoutMaxSeconds,
    },
    now,
  });
  const secondFactor = new MfaTickets({ repo, now });
  const sessions = new SessionsService({
    repo,
    secondFactor,
    hasher,
    throttle,
    sessionTtlSeconds: settings.sessionTtlSeconds,
    maxSessionsPerUser: settings.maxSessionsPerUser,
    now,
  });
  const tokenMail = {
    repo,
    now,
    mailsPerAddress: settings.mailsPerAddress,
    mailRateWindowSeconds: settings.mailRateWindowSeconds,
    onMailQueued,
  };
  const redirectOrigins = settings.redirectOrigins ?? [];
  const signingKeys = new SigningKeyRing({
    repo,
    secrets,
    now,
    times: {
      accessTokenTtlSeconds: settings.accessTokenTtlSeconds ?? 300,
      jwksMaxAgeSeconds: settings.jwksMaxAgeSeconds ?? 300,
      signingKeyReloadSeconds: settings.signingKeyReloadSeconds ?? 30,
    },
  });
  const passkeys = new PasskeysService({
    repo,
    rp: relyingParty({
      rpId: settings.rpId ?? "",
      rpName: settings.rpName ?? "users",
      rpOrigins: settings.rpOrigins ?? [],
    }),
    sessionTtlSeconds: settings.sessionTtlSeconds,
    ...(settings.maxSessionsPerUser === undefined ? {} : { maxSessionsPerUser: settings.maxSessionsPerUser }),
    now,
    ...(warn ? { warn } : {}),
  });
  return {
    hasher,
    throttle,
    keys: new KeysService({ repo, now, cacheSeconds: settings.apiKeyCacheSeconds }),
    users: new UsersService({ repo, hasher, now }),
    sessions,
    passwords: new PasswordsService({ repo, hasher, throttle, now }),
    access: new AccessPolicy({
      repo,
      sessions,
      now,
      signUp: {
        offNamespaces: new Set(settings.publicSignupOffNamespaces),
        perKey: settings.publicSignupsPerKey,
        perNamespace: settings.publicSignupsPerNamespace,
        windowSeconds: settings.publicSignupWindowSeconds,
      },
      mail: {
        perKey: settings.publicMailsPerKey,
        perNamespace: settings.publicMailsPerNamespace,
        windowSeconds: settings.mailRateWindowSeconds,
      },
    }),
    verification: new VerificationService({
      ...tokenMail,
      publicUrl: settings.publicUrl ?? "http://localhost:8080",
      redirectOrigins,
      ttlSeconds: settings.verificationTtlSeconds ?? 86_400,
    }),
    passwordReset: new PasswordResetService({
      ...tokenMail,
      hasher,
      throttle,
      maxTtlSeconds: settings.passwordResetMaxTtlSeconds ?? 3600,
    }),
    magicLinks: new MagicLinkService({
      ...tokenMail,
      sessions,
      secondFactor,
      redirectOrigins,
      ttlSeconds: settings.magicLinkTtlSeconds ?? 600,
    }),
    mfa: new MfaService({
      repo,
      secrets,
      throttle,
      sessions,
      issuer: settings.totpIssuer ?? "users",
      now,
      onAdminRemoval: onMfaAdminRemoval,
      passkeys,
    }),
    passkeys,
    secrets,
    signingKeys,
    accessTokens: new AccessTokensService({
      repo,
      sessions,
      ring: signingKeys,
      now,
      issuer: settings.publicUrl ?? "http://localhost:8080",
      ttlSeconds: settings.accessTokenTtlSeconds ?? 300,
      onIssued: onTokenIssued,
    }),
    audit: new AuditService({ repo }),
    webhooks: new WebhooksService({
      repo,
      now,
      box: secrets,
      allowPrivate: settings.webhookAllowPrivate ?? false,
      onAdded: onWebhookAdded,
    }),
  };
}
