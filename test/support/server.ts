// Starts the real server on a free loopback port for a test, with a fresh
// database, a known admin key, bcrypt cost 4 (fast) and logs captured in memory.

import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { type Config, loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/observability/logger.js";
import { createServer, type Server } from "../../src/server.js";
import { type Engine, freshDatabaseUrl, withEncryptionKeys } from "./databases.js";

export interface TestServer {
  url: string;
  port: number;
  adminKey: string;
  server: Server;
  config: Config;
  /** Every log line written so far, as text. */
  logs: string[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  engine?: Engine;
  databaseUrl?: string;
  env?: Record<string, string>;
  /** The server's clock (unix ms); a test that controls it can expire sessions without waiting. */
  now?: () => number;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const adminKey = `test-admin-${randomBytes(24).toString("base64url")}`;
  const config = loadConfig(
    withEncryptionKeys({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: options.databaseUrl ?? (await freshDatabaseUrl(options.engine ?? "sqlite")),
      BCRYPT_COST: "4",
      USERS_BOOTSTRAP_KEY: adminKey,
      LOG_LEVEL: "info",
      SHUTDOWN_TIMEOUT_SECONDS: "5",
      ...options.env,
    }),
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(
        ...String(chunk)
          .split("\n")
          .filter((line) => line !== ""),
      );
      done();
    },
  });
  const server = await createServer(config, {
    logger: createLogger(config.logLevel, sink),
    ...(options.now ? { now: options.now } : {}),
  });
  await server.keys.register(adminKey, "test admin");
  const address = await server.listen();
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    adminKey,
    server,
    config,
    logs,
    close: () => server.close(),
  };
}
