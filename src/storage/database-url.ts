// DATABASE_URL names the storage engine and where its data lives.
export type DatabaseTarget = { engine: "sqlite"; path: string } | { engine: "postgres"; url: string };

export function parseDatabaseUrl(text: string): DatabaseTarget {
  if (text.startsWith("sqlite:")) {
    const path = text.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new Error("sqlite: needs a file path, e.g. sqlite:./data/users.db");
    return { engine: "sqlite", path };
  }
  if (text.startsWith("postgres://") || text.startsWith("postgresql://")) {
    try {
      new URL(text);
    } catch {
      throw new Error("is not a valid postgres:// URL");
    }
    return { engine: "postgres", url: text };
  }
  throw new Error('must start with "sqlite:" or "postgres://"');
}
