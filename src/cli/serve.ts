// `users-service serve`: run the server until SIGTERM/SIGINT, then drain.
import { describeConfig, type Config } from "../config/config.js";
import type { Logger } from "../observability/logger.js";
import { createServer, type Server } from "../server.js";
import { packageVersion } from "./version.js";

export async function serve(config: Config, logger: Logger, out: NodeJS.WritableStream = process.stdout): Promise<Server> {
  logger.info({ version: packageVersion(), config: describeConfig(config) }, "starting users-service");
  const server = await createServer(config, { logger });
  const firstKey = await ensureUsableKey(server);
  const address = await server.listen();
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  logger.info({ address: `${host}:${address.port}`, engine: server.repo.engine }, "listening");
  if (firstKey) out.write(firstKeyBanner(firstKey, address.port));
  handleSignals(server, logger);
  return server;
}

/**
 * Registers USERS_BOOTSTRAP_KEY when set; when no usable key exists at all,
 * creates an admin key and returns it so it can be shown once (never logged).
 */
async function ensureUsableKey(server: Server): Promise<string | undefined> {
  if (server.config.bootstrapKey !== "") await server.keys.register(server.config.bootstrapKey, "USERS_BOOTSTRAP_KEY");
  if (await server.keys.anyActive()) return undefined;
  return (await server.keys.create(null, "created at first start")).key;
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
}
