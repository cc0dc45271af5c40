// The Users service in process: the real services over a real database, the
// real routes (registerUsers) with the real interceptors (observe, auth),
// called through createRouterTransport with the generated client. No socket.
import {
  type Client,
  type ConnectRouter,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { Users } from "../../gen/users/v1/users_pb.js";
import { buildServices } from "../../src/service/build-services.js";
import type { KeysService } from "../../src/service/keys.js";
import type { BcryptHasher } from "../../src/service/password-hasher.js";
import type { PasswordsService } from "../../src/service/passwords.js";
import type { SessionsService } from "../../src/service/sessions.js";
import type { UsersService } from "../../src/service/users.js";
import { openRepository } from "../../src/storage/open.js";
import type { Repository } from "../../src/storage/repository.js";
import { authInterceptor } from "../../src/transport/auth-interceptor.js";
import { type CallReport, observeInterceptor } from "../../src/transport/observe-interceptor.js";
import { registerUsers } from "../../src/transport/users-routes.js";
import { TestClock } from "./clock.js";
import { type Engine, freshDatabaseUrl } from "./databases.js";

export interface InProcessOptions {
  engine?: Engine;
  /** Database waits (SQLite busy timeout, PostgreSQL statement timeout) in ms; default 5000. */
  storageTimeoutMs?: number;
  sessionTtlSeconds?: number;
  maxSessionsPerUser?: number;
  bcryptCost?: number;
  hashConcurrency?: number;
  hashQueueMax?: number;
  loginMaxFailures?: number;
  loginLockoutBaseSeconds?: number;
  loginLockoutMaxSeconds?: number;
}

export interface InProcess {
  databaseUrl: string;
  repo: Repository;
  clock: TestClock;
  keys: KeysService;
  users: UsersService;
  sessions: SessionsService;
  passwords: PasswordsService;
  hasher: BcryptHasher;
  /** An admin API key. */
  adminKey: string;
  /** Every finished call, as the observe interceptor reports it. */
  reports: CallReport[];
  /** A client that sends this key (default: the admin key) and, if given, this namespace. */
  client(options?: { key?: string | null; namespace?: string }): Client<typeof Users>;
  close(): Promise<void>;
}

export async function startInProcess(options: InProcessOptions = {}): Promise<InProcess> {
  const clock = new TestClock();
  const databaseUrl = await freshDatabaseUrl(options.engine ?? "sqlite");
  const timeoutMs = options.storageTimeoutMs ?? 5000;
  const repo = await openRepository({
    databaseUrl,
    sqliteBusyTimeoutMs: timeoutMs,
    pgPoolSize: 4,
    pgStatementTimeoutMs: timeoutMs,
  });
  const { hasher, keys, users, sessions, passwords, verification } = buildServices({
    settings: {
      bcryptCost: options.bcryptCost ?? 4,
      hashConcurrency: options.hashConcurrency ?? 2,
      hashQueueMax: options.hashQueueMax ?? 64,
      sessionTtlSeconds: options.sessionTtlSeconds ?? 604800,
      maxSessionsPerUser: options.maxSessionsPerUser ?? 100,
      apiKeyCacheSeconds: 5,
      loginMaxFailures: options.loginMaxFailures ?? 5,
      loginLockoutBaseSeconds: options.loginLockoutBaseSeconds ?? 1,
      loginLockoutMaxSeconds: options.loginLockoutMaxSeconds ?? 900,
    },
    repo,
    now: clock.now,
  });
  const reports: CallReport[] = [];
  const routes = (router: ConnectRouter) =>
    registerUsers(router, { users, sessions, passwords, verification }, [
      observeInterceptor([(r) => reports.push(r)]),
      authInterceptor(keys),
    ]);
  const { key: adminKey } = await keys.create(null, "in-process admin");

  return {
    databaseUrl,
    repo,
    clock,
    keys,
    users,
    sessions,
    passwords,
    hasher,
    adminKey,
    reports,
    client({ key = adminKey, namespace }: { key?: string | null; namespace?: string } = {}) {
      const headers: Interceptor = (next) => (req) => {
        if (key !== null) req.header.set("authorization", `Bearer ${key}`);
        if (namespace !== undefined) req.header.set("micro-namespace", namespace);
        return next(req);
      };
      return createClient(Users, createRouterTransport(routes, { transport: { interceptors: [headers] } }));
    },
    close: () => repo.close(),
  };
}
