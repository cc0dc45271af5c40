// The composition root: builds storage, services and transport from one
// validated Config and returns a server that is not yet listening. Tests call
// createServer() and listen on port 0; the CLI's `serve` listens on PORT.

import { setMaxListeners } from "node:events";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { createSecureContext } from "node:tls";
import type { ConnectRouter } from "@connectrpc/connect";
import { KeysService as KeysRpc } from "../gen/users/v1/keys_pb.js";
import { Users } from "../gen/users/v1/users_pb.js";
import { WebhooksService as WebhooksRpc } from "../gen/users/v1/webhooks_pb.js";
import { type Config, ConfigError } from "./config/config.js";
import { EncryptionKeyFileError, loadSecretBox } from "./files/encryption-key-file.js";
import { mailTransport } from "./mail/delivery.js";
import { OutboxSender } from "./mail/outbox-sender.js";
import { logCalls } from "./observability/call-log.js";
import { countEvents } from "./observability/event-metrics.js";
import { HealthMonitor } from "./observability/health.js";
import type { Logger } from "./observability/logger.js";
import { watchOutbox } from "./observability/mail-metrics.js";
import { Metrics } from "./observability/metrics.js";
import { logRefusals } from "./observability/refusal-log.js";
import { timedRepository } from "./observability/timed-repository.js";
import { countTokens } from "./observability/token-metrics.js";
import { watchWebhooks } from "./observability/webhook-metrics.js";
import { buildServices } from "./service/build-services.js";
import type { KeysService } from "./service/keys.js";
import type { BcryptHasher } from "./service/password-hasher.js";
import type { PasswordsService } from "./service/passwords.js";
import type { SecretBox } from "./service/secret-box.js";
import type { SessionsService } from "./service/sessions.js";
import { type SigningKeyRing, SigningKeyUnreadable } from "./service/signing-keys.js";
import { startSweeper } from "./service/sweeper.js";
import type { UsersService } from "./service/users.js";
import { openRepository } from "./storage/open.js";
import type { Repository } from "./storage/repository.js";
import { logAdapterFailure } from "./transport/adapter-failure.js";
import { registerApi } from "./transport/api-routes.js";
import { BodyBudget } from "./transport/body-budget.js";
import { protocolOf } from "./transport/call-context.js";
import { consoleRoute } from "./transport/console-files.js";
import { createCors, isRpcPath } from "./transport/cors.js";
import { registerHealth } from "./transport/health-routes.js";
import { createHttpHandler } from "./transport/http-handler.js";
import { Listener, type TlsCredentials } from "./transport/listener.js";
import { createM3oHandler, isM3oPath } from "./transport/m3o.js";
import { type CallObserver, observeInterceptor } from "./transport/observe-interceptor.js";
import { probeRoutes } from "./transport/probe-routes.js";
import { registerReflection } from "./transport/reflection-routes.js";
import { createRpcHandler } from "./transport/rpc-adapter.js";
import { verifyEmailRoute } from "./transport/verify-email-route.js";
import { wellKnownRoutes } from "./transport/well-known-routes.js";
import { WebhookSender } from "./webhooks/sender.js";

export interface Server {
  readonly config: Config;
  readonly repo: Repository;
  readonly keys: KeysService;
  readonly users: UsersService;
  readonly sessions: SessionsService;
  readonly passwords: PasswordsService;
  readonly hasher: BcryptHasher;
  readonly metrics: Metrics;
  readonly health: HealthMonitor;
  readonly mailSender: OutboxSender;
  readonly webhookSender: WebhookSender;
  listen(): Promise<AddressInfo>;
  /** Reads TLS_CERT_FILE and TLS_KEY_FILE again and serves new connections with them (SIGHUP); open ones are kept. */
  reloadTls(): Promise<void>;
  /** Graceful stop: finish in-flight calls (up to the shutdown timeout), then close the database. */
  close(): Promise<void>;
}

export interface ServerOptions {
  logger: Logger;
  /** Extra observers of finished calls (metrics, tests). */
  observers?: CallObserver[];
  now?: () => number;
}

const SWEEP_INTERVAL_MS = 60_000;

/** Loads (on first start, makes) the signing keys; one the encryption keys cannot open stops the start. */
async function startSigningKeys(ring: SigningKeyRing, repo: Repository): Promise<void> {
  try {
    await ring.start();
  } catch (err) {
    await repo.close().catch(() => undefined);
    if (err instanceof SigningKeyUnreadable) throw new ConfigError([err.message]);
    throw err;
  }
}

/** The encryption keys, or a start-up refusal naming ENCRYPTION_KEY_FILE. */
function openSecretBox(config: Config, logger: Logger): SecretBox {
  try {
    const { box, file, created } = loadSecretBox(config);
    if (created)
      logger.warn(
        { file },
        "encryption keys created: back this file up with the database (it is needed to read secrets stored there)",
      );
    return box;
  } catch (err) {
    if (err instanceof EncryptionKeyFileError) throw new ConfigError([err.message]);
    throw err;
  }
}

export async function createServer(config: Config, options: ServerOptions): Promise<Server> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  let listener: Listener | undefined;
  const metrics = new Metrics({ openConnections: () => listener?.connections ?? 0 });
  const secrets = openSecretBox(config, logger);
  const engine = await openRepository(config);
  const repo = timedRepository(engine, (operation, seconds) => metrics.observeDb(engine.engine, operation, seconds));
  const eventsWritten = countEvents(metrics.registry);
  const webhookSender = new WebhookSender({
    store: repo,
    box: secrets,
    now,
    allowPrivate: config.webhookAllowPrivate,
    timeoutMs: config.webhookTimeoutSeconds * 1000,
    maxAttempts: config.webhookMaxAttempts,
    baseBackoffMs: config.webhookRetryBaseMs,
    disableAfter: config.webhookDisableAfter,
    onOutcome: watchWebhooks(metrics.registry, () => repo.webhookStats(now())),
    onError: (err) => logger.warn({ err }, "webhook delivery round failed"),
  });
  engine.onEventsWritten = (events) => {
    eventsWritten(events);
    // Committed: deliver soon, not at the next poll.
    webhookSender.wake();
  };
  const health = new HealthMonitor(repo);

  const transport = mailTransport(config);
  const mailMetrics = watchOutbox(metrics.registry, () => repo.outboxStats(now()));
  const mailSender = new OutboxSender({
    store: repo,
    transport,
    now,
    maxAttempts: config.mailMaxAttempts,
    leaseMs: config.mailLeaseSeconds * 1000,
    onSent: mailMetrics.sent,
    onFailed: (reason) => {
      mailMetrics.failed();
      logger.warn({ reason }, "mail given up");
    },
    onError: (err) => logger.warn({ err }, "mail delivery round failed"),
  });
  logger.info({ mail: transport.describe }, "mail delivery");

  const services = buildServices({
    settings: config,
    repo,
    now,
    hashTiming: metrics,
    // A mail committed by a call goes out now, not at the next poll.
    onMailQueued: () => mailSender.wake(),
    secrets,
    // An admin's way out for a locked-out user is recorded (docs/mfa.md).
    onMfaAdminRemoval: (removal) =>
      logger.warn(
        { namespace: removal.namespace, user_id: removal.userId, key_id: removal.keyId, role: removal.role },
        "second factor removed without a code (admin removal)",
      ),
    warn: (fields, message) => logger.warn(fields, message),
    onTokenIssued: countTokens(metrics.registry),
    onWebhookAdded: () => webhookSender.endpointAdded(),
  });
  await startSigningKeys(services.signingKeys, repo);
  const { hasher, keys, users, sessions, passwords } = services;
  metrics.watchHashQueue(hasher.queue);
  void hasher.prepare();

  const callLog = logCalls(logger, {
    mode: config.logCalls,
    perSecond: config.logCallsPerSecond,
    slowMs: config.logSlowCallMs,
  });
  const observe = observeInterceptor([callLog, metrics.observeCall, ...(options.observers ?? [])]);
  const routes = (router: ConnectRouter) => {
    registerApi(router, services, observe);
    // Probes and schema discovery need no API key.
    registerHealth(router, health, [observe]);
    registerReflection(router, [observe]);
  };
  const shutdown = new AbortController();
  // Every in-flight call listens to this signal: hundreds at once are normal.
  setMaxListeners(0, shutdown.signal);
  const bodies = new BodyBudget(config.maxBufferedBodyBytes);
  const rpc = createRpcHandler({
    routes,
    bodies,
    readMaxBytes: config.maxBodyBytes,
    shutdownSignal: shutdown.signal,
    keyed: { keys, services: [Users.typeName, KeysRpc.typeName, WebhooksRpc.typeName] },
    logger,
  });
  const m3o = createM3oHandler({ routes, maxBodyBytes: config.maxBodyBytes, keys, logger, bodies });
  const handler = createHttpHandler({
    rpc,
    m3o: { matches: isM3oPath, handle: m3o },
    routes: [
      ...probeRoutes(health, metrics),
      consoleRoute(),
      verifyEmailRoute(services.verification, logger),
      ...wellKnownRoutes({
        ring: services.signingKeys,
        now,
        issuer: config.publicUrl,
        jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
      }),
    ],
    before: createCors({ origins: config.corsOrigins, appliesTo: (path) => isRpcPath(path) || isM3oPath(path) }),
  });
  const logRefusal = logRefusals(logger);
  const server = new Listener(
    handler,
    {
      maxHeaderBytes: 16 * 1024,
      maxConcurrentStreams: 100,
      keepAliveTimeoutMs: config.httpKeepAliveTimeoutSeconds * 1000,
      h2IdleTimeoutMs: config.http2IdleTimeoutSeconds * 1000,
      headersTimeoutMs: config.httpHeadersTimeoutSeconds * 1000,
      requestTimeoutMs: config.httpRequestTimeoutSeconds * 1000,
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      ...(config.tlsCertFile ? { tls: await readTlsFiles(config) } : {}),
    },
    {
      onRefusal(refusal) {
        metrics.observeRefusal(refusal.status);
        logRefusal({ ...refusal, protocol: refusalProtocol(refusal.path, refusal.contentType) });
      },
      onConnectionRefused(limit) {
        metrics.observeRefusedConnection(limit);
      },
      onHandlerFailure(err, req) {
        logAdapterFailure(logger, "http", req, err);
      },
    },
  );
  listener = server;

  let stopSweeper: (() => void) | undefined;
  let closing: Promise<void> | undefined;

  return {
    config,
    repo,
    keys,
    users,
    sessions,
    passwords,
    hasher,
    metrics,
    health,
    mailSender,
    webhookSender,
    async listen() {
      const address = await server.listen(config.port, config.host);
      health.start();
      stopSweeper = startSweeper(
        repo,
        now,
        SWEEP_INTERVAL_MS,
        (err) => logger.warn({ err }, "sweep failed"),
        config.eventRetentionDays * 86_400_000,
      );
      services.signingKeys.startReloading((err) => logger.warn({ err }, "signing keys reload failed"));
      mailSender.start();
      webhookSender.start();
      return address;
    },
    async reloadTls() {
      if (!config.tlsCertFile) throw new Error("TLS is not configured (TLS_CERT_FILE, TLS_KEY_FILE)");
      server.setTlsCredentials(await readTlsFiles(config));
    },
    close() {
      closing ??= (async () => {
        stopSweeper?.();
        services.signingKeys.stop();
        // Probes turn NOT_SERVING first, so load balancers stop sending traffic.
        health.drain();
        await server.close(config.shutdownTimeoutSeconds * 1000);
        // Anything still running past the grace period is told to stop.
        shutdown.abort();
        // A delivery in progress finishes and records its outcome first.
        await mailSender.stop();
        await webhookSender.stop();
        transport.close();
        await repo.close();
      })();
      return closing;
    },
  };
}

/** The protocol a refused request spoke, as call lines name it; "http" for other paths. */
function refusalProtocol(path: string | undefined, contentType: string | undefined): string {
  if (path === undefined) return "http";
  if (isM3oPath(path)) return "m3o";
  return isRpcPath(path) ? protocolOf(contentType ?? null, false) : "http";
}

/** The certificate chain and key, checked to be a usable pair before they are served. */
async function readTlsFiles(config: Config): Promise<TlsCredentials> {
  const [cert, key] = await Promise.all([readFile(config.tlsCertFile), readFile(config.tlsKeyFile)]);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`TLS_CERT_FILE, TLS_KEY_FILE: not a usable certificate and key (${(err as Error).message})`);
  }
  return { cert, key };
}
