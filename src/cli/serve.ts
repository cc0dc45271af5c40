// `users-service serve`: run the server until SIGTERM/SIGINT, then drain.
import { type Config, describeConfig } from "../config/config.js";
import type { Logger } from "../observability/logger.js";
import { createServer, type Server } from "../server.js";
import { packageVersion } from "./version.js";

export async function serve(
  config: Config,
  logger: Logger,
  out: NodeJS.WritableStream = process.stdout,
): Promise<Server> {
  logger.info({ version: packageVersion(), config: describeConfig(config) }, "starting users-service");
  const server = await createServer(config, { logger });
  if (config.bootstrapKey !== "") await server.keys.register(config.bootstrapKey, "USERS_BOOTSTRAP_KEY");
  const address = await server.listen().catch(async (err: unknown) => {
    await server.close().catch(() => undefined);
    throw new Error(`cannot listen on ${config.host}:${config.port} (HOST, PORT): ${(err as Error).message}`, {
      cause: err,
    });
  });
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  logger.info(
    { address: `${host}:${address.port}`, engine: server.repo.engine, tls: config.tlsCertFile !== "" },
    "listening",
  );
  // Made only once the port is ours: a start that fails to listen must not
  // leave behind a key that nobody was shown.
  const firstKey = await firstAdminKey(server, logger);
  if (firstKey) out.write(firstKeyBanner(firstKey, address.port));
  handleSignals(server, logger);
  return server;
}

/**
 * On the very first start (no key has ever existed) creates an admin key and
 * returns it so it can be shown once (never logged). Once keys exist, none is
 * ever made here: an operator who revoked every key (say, after a leak) must
 * not find a new admin key printed by the next restart.
 */
async function firstAdminKey(server: Server, logger: Logger): Promise<string | undefined> {
  const keys = await server.keys.list();
  if (keys.length === 0) return (await server.keys.create(null, "created at first start")).key;
  if (!keys.some((key) => key.revokedMs === null)) {
    logger.warn(
      "every API key is revoked, so no call can be made: create one with `users-service keys create --admin`",
    );
  }
  return undefined;
}

function firstKeyBanner(key: string, port: number): string {
  return `
No API key existed, so an admin key was created. It is shown only this once; keep it secret:

  ${key}

Try it:

  curl http://localhost:${port}/users/Users/Create -H 'authorization: Bearer ${key}' \\
    -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}'

Manage keys with: npx users-service keys create|list|revoke

`;
}

function handleSignals(server: Server, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "draining: finishing in-flight calls");
    server.close().then(
      () => {
        logger.info("stopped");
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // SIGHUP: new TLS certificate and key, for new connections; open ones keep theirs.
  process.on("SIGHUP", () => {
    if (!server.config.tlsCertFile) return void logger.info("SIGHUP: no TLS configured, nothing to reload");
    server.reloadTls().then(
      () => logger.info("TLS certificate and key reloaded"),
      (err: unknown) => logger.error({ err }, "TLS reload failed; still serving the previous certificate"),
    );
  });
}
