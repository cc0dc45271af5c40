// The `users-service` command line: dispatches to serve, migrate, keys, users.
import { ConfigError, loadConfig } from "../config/config.js";
import { createLogger } from "../observability/logger.js";
import { ServiceError } from "../service/errors.js";
import { openRepository } from "../storage/open.js";
import { encryptionKeysCommand } from "./encryption-keys.js";
import { keysCommand } from "./keys.js";
import { serve } from "./serve.js";
import { helpText, UsageError } from "./usage.js";
import { usersCommand } from "./users-transfer.js";
import { packageVersion } from "./version.js";

export async function main(argv: string[]): Promise<number> {
  const [command = "serve", ...args] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(helpText());
    return 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  try {
    // Needs no configuration: it makes the file a configuration then names.
    if (command === "encryption-keys") {
      encryptionKeysCommand(args, process.stdout);
      return 0;
    }
    const config = loadConfig();
    switch (command) {
      case "serve":
        await serve(config, createLogger(config.logLevel));
        return -1; // keeps running until a signal
      case "migrate": {
        const repo = await openRepository(config);
        await repo.close();
        process.stdout.write("Migrations applied.\n");
        return 0;
      }
      case "keys":
        await keysCommand(config, args, process.stdout);
        return 0;
      case "users":
        return await usersCommand(config, args);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`users-service: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ServiceError) {
      process.stderr.write(`users-service: ${err.message}\n`);
      return 1;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`users-service: ${err.message}\nRun users-service --help for usage.\n`);
      return 2;
    }
    process.stderr.write(`users-service: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}
