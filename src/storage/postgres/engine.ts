// DATABASE_URL postgres://user:pass@host:port/db (or postgresql://): a server
// that several replicas share.
import { defineEngine } from "../engine.js";

export const postgresEngine = defineEngine<{ engine: "postgres"; url: string }>({
  name: "postgres",
  schemes: ["postgres://", "postgresql://"],
  parse(text) {
    try {
      new URL(text);
    } catch {
      throw new Error("is not a valid postgres:// URL");
    }
    return { engine: "postgres", url: text };
  },
  async open(target, options) {
    // Loaded only here, so SQLite deployments never load pg.
    const { PostgresRepository } = await import("./postgres-repository.js");
    return PostgresRepository.open(target.url, {
      poolSize: options.pgPoolSize,
      statementTimeoutMs: options.pgStatementTimeoutMs,
      searchScanMax: options.searchScanMax,
    });
  },
});
