// `users-service serve`: run the server until SIGTERM/SIGINT, then drain.
import fs from "node:fs";
import path from "node:path";
import { type Config, describeConfig } from "../config/config.js";
import { createExclusivePrivateFile } from "../files/private-file.js";
import type { Logger } from "../observability/logger.js";
import { createServer, type Server } from "../server.js";
import { parseDatabaseUrl } from "../storage/database-url.js";
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
  await handOverFirstKey(server, config, logger, out, address.port);
  handleSignals(server, logger);
  return server;
}

/**
 * On the very first start (no key has ever existed) creates an admin key and
 * hands it over once, never through the log. Once keys exist, none is ever
 * made here: an operator who revoked every key (say, after a leak) must not
 * find a new admin key printed by the next restart.
 */
async function handOverFirstKey(
  server: Server,
  config: Config,
  logger: Logger,
  out: NodeJS.WritableStream,
  port: number,
): Promise<void> {
  const keys = await server.keys.list();
  if (keys.length > 0) {
    if (!keys.some((key) => key.revokedMs === null)) {
      logger.warn(
        "every API key is revoked, so no call can be made: create one with `users-service keys create --admin`",
      );
    }
    return;
  }
  // A terminal is read by a person. Anything else (a pipe, a file, a
  // container's log collector) may be kept and shipped, so the key goes to a
  // file only its owner can read instead, and the log says only where.
  if ((out as NodeJS.WriteStream).isTTY === true) {
    const created = await server.keys.create(null, "created at first start");
    out.write(firstKeyBanner(created.key, port));
    return;
  }
  const file = firstKeyFile(config);
  let fd: number;
  try {
    fd = createExclusivePrivateFile(file);
  } catch (err) {
    logger.error(
      { file, code: (err as NodeJS.ErrnoException).code },
      "no API key exists and none was created: the admin key file cannot be created (it must not exist yet; see ADMIN_KEY_FILE). Create a key with `users-service keys create --admin`",
    );
    return;
  }
  try {
    const created = await server.keys.create(null, "created at first start");
    fs.writeFileSync(fd, `${created.key}\n`);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err;
  } finally {
    fs.closeSync(fd);
  }
  logger.warn(
    { file },
    "no API key existed, so an admin key was created and written to this file (readable by its owner only): keep the key, then delete the file",
  );
}

/** ADMIN_KEY_FILE, else `admin-key` in the SQLite database's folder, else in the working folder. */
export function firstKeyFile(config: Config): string {
  if (config.adminKeyFile !== "") return config.adminKeyFile;
  const target = parseDatabaseUrl(config.databaseUrl);
  if (target.engine === "sqlite" && !target.path.startsWith(":memory:") && !target.path.startsWith("file:")) {
    return path.join(path.dirname(target.path), "admin-key");
  }
  return "admin-key";
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
