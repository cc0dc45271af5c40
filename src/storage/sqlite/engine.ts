// DATABASE_URL sqlite:PATH (or sqlite:///absolute/path): one file on this machine.
import { defineEngine } from "../engine.js";

export const sqliteEngine = defineEngine<{ engine: "sqlite"; path: string }>({
  name: "sqlite",
  schemes: ["sqlite:"],
  parse(text) {
    const path = text.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new Error("sqlite: needs a file path, e.g. sqlite:./data/users.db");
    return { engine: "sqlite", path };
  },
  async open(target, options) {
    // Loaded only here, so PostgreSQL deployments never load better-sqlite3.
    const { SqliteRepository } = await import("./sqlite-repository.js");
    return new SqliteRepository(target.path, {
      busyTimeoutMs: options.sqliteBusyTimeoutMs,
      searchScanMax: options.searchScanMax,
    });
  },
});
