// Opens the storage engine DATABASE_URL names, with migrations applied.
import type { Config } from "../config/config.js";
import { parseDatabaseUrl } from "./database-url.js";
import type { Repository } from "./repository.js";

export type OpenOptions = Pick<Config, "databaseUrl" | "pgPoolSize" | "pgStatementTimeoutMs"> &
  Partial<Pick<Config, "sqliteBusyTimeoutMs" | "searchScanMax">>;

export async function openRepository(config: OpenOptions): Promise<Repository> {
  const target = parseDatabaseUrl(config.databaseUrl);
  if (target.engine === "sqlite") {
    const { SqliteRepository } = await import("./sqlite/sqlite-repository.js");
    return new SqliteRepository(target.path, {
      busyTimeoutMs: config.sqliteBusyTimeoutMs,
      searchScanMax: config.searchScanMax,
    });
  }
  // Loaded only here, so SQLite deployments never load pg.
  const { PostgresRepository } = await import("./postgres/postgres-repository.js");
  return PostgresRepository.open(target.url, {
    poolSize: config.pgPoolSize,
    statementTimeoutMs: config.pgStatementTimeoutMs,
    searchScanMax: config.searchScanMax,
  });
}
