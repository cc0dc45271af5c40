// The one place the services are put together: from the settings, a
// repository and a clock. The server and the tests both call it, so what runs
// in a test is wired exactly as what runs in production.
import os from "node:os";
import type { Config } from "../config/config.js";
import type { Repository } from "../storage/repository.js";
import type { SecretBox } from "../webhooks/secret-box.js";
import { AccessPolicy } from "./access.js";
import { AuditService } from "./audit.js";
import { KeysService } from "./keys.js";
import { LoginThrottle } from "./login-throttle.js";
import { BcryptHasher, type HashTiming } from "./password-hasher.js";
import { PasswordsService } from "./passwords.js";
import { SessionsService } from "./sessions.js";
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
  Partial<Pick<Config, "publicUrl" | "redirectOrigins" | "verificationTtlSeconds" | "webhookAllowPrivate">>;

export interface ServiceDeps {
  settings: ServiceSettings;
  repo: Repository;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Observes each hash's duration (metrics). */
  hashTiming?: HashTiming;
  /** Told when a call committed a mail to the outbox (wakes the sender). */
  onMailQueued?: () => void;
  /** Seals webhook secrets (src/webhooks/secret-box.ts); none: webhooks cannot be added. */
  webhookSecrets?: SecretBox;
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
  verification: VerificationService;
  audit: AuditService;
  webhooks: WebhooksService;
}

export function buildServices({
  settings,
  repo,
  now,
  hashTiming,
  onMailQueued,
  webhookSecrets,
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
  const sessions = new SessionsService({
    repo,
    hasher,
    throttle,
    sessionTtlSeconds: settings.sessionTtlSeconds,
    maxSessionsPerUser: settings.maxSessionsPerUser,
    now,
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
      repo,
      now,
      publicUrl: settings.publicUrl ?? "http://localhost:8080",
      redirectOrigins: settings.redirectOrigins ?? [],
      ttlSeconds: settings.verificationTtlSeconds ?? 86_400,
      mailsPerAddress: settings.mailsPerAddress,
      mailRateWindowSeconds: settings.mailRateWindowSeconds,
      onMailQueued,
    }),
    audit: new AuditService({ repo }),
    webhooks: new WebhooksService({
      repo,
      now,
      box: webhookSecrets,
      allowPrivate: settings.webhookAllowPrivate ?? false,
    }),
  };
}
