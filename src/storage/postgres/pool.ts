// The connection pool: sized by PG_POOL_SIZE, every limit derived from
// PG_STATEMENT_TIMEOUT_MS so no call can hang.
import pg from "pg";

export interface PoolOptions {
  poolSize: number;
  /** Longest a statement, or a wait for a pooled connection, may take. */
  statementTimeoutMs: number;
}

/**
 * How much longer than statement_timeout the client waits for an answer
 * before it gives up on the connection itself. The server's own timeout
 * normally fires first (and leaves the connection usable); this one catches
 * a server or network that does not answer at all.
 */
export const CLIENT_GRACE_MS = 1000;

const INT8_OID = 20;

// int8 (bigint, count(*)) comes back as a JS number: every value this engine
// stores is a ms timestamp or a count, far below 2^53. Set on this pool only,
// not through pg.types, so other code using pg keeps pg's defaults.
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return (text: string) => Number(text);
    return format === "binary" ? pg.types.getTypeParser(oid, "binary") : pg.types.getTypeParser(oid, "text");
  },
} as pg.CustomTypesConfig;

export function createPool(url: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: "users-service",
    max: options.poolSize,
    // Both the wait for a free pooled connection and the set-up of a new one.
    connectionTimeoutMillis: options.statementTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + CLIENT_GRACE_MS,
    // A replica frozen in the middle of a transaction (a stalled event loop, a
    // paused container) must not keep row locks, and so other replicas' logins, forever.
    idle_in_transaction_session_timeout: Math.max(2 * options.statementTimeoutMs, 1000),
    keepAlive: true,
    types,
  });
  // An idle connection that dies (server restart, pg_terminate_backend, network
  // drop) is reported here and already removed from the pool; the next call
  // opens a fresh one. Without a listener the 'error' event would crash the process.
  pool.on("error", () => {});
  return pool;
}
