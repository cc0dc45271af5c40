// Opens the storage engine DATABASE_URL names, with migrations applied.
import type { Config } from "../config/config.js";
import { parseDatabaseUrl } from "./database-url.js";
import type { Repository } from "./repository.js";

export async function openRepository(config: Pick<Config, "databaseUrl" | "pgPoolSize" | "pgStatementTimeoutMs">): Promise<Repository> {
  const target = parseDatabaseUrl(config.databaseUrl);
  if (target.engine === "sqlite") {
    const { SqliteRepository } = await import("./sqlite/sqlite-repository.js");
    return new SqliteRepository(target.path);
  }
  // Loaded only here, so SQLite deployments never load pg.
  const { PostgresRepository } = await import("./postgres/postgres-repository.js");
  return PostgresRepository.open(target.url, {
    poolSize: config.pgPoolSize,
    statementTimeoutMs: config.pgStatementTimeoutMs,
  });
}
