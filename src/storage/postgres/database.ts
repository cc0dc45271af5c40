// Runs statements and transactions on pooled connections with one discipline:
// a connection goes back to the pool only when its protocol state is known to
// be clean, errors of a checked-out connection never reach the process as an
// unhandled 'error' event, and every failure leaves as a repository error.
import type pg from "pg";
import { connectionReusableAfter, translatePgError } from "./errors.js";

export type Params = ReadonlyArray<unknown>;

/** What a transaction's work may do: run statements on the transaction's connection. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: Params): Promise<pg.QueryResult<R>>;
}

export class Database implements Queryable {
  constructor(private readonly pool: pg.Pool) {}

  /** One statement on its own (autocommit). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params: Params = [],
  ): Promise<pg.QueryResult<R>> {
    return this.withConnection((client) => client.query<R>(text, params as unknown[]));
  }

  /**
   * Runs `work` in BEGIN … COMMIT (READ COMMITTED); rolls back if it throws.
   * A deadlock or serialization failure rolled the whole transaction back, so
   * it is run again (PostgreSQL's advice), up to three times in all: a burst
   * of correct logins of one user must not see one refused for it.
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await this.transactionOnce(work);
      } catch (err) {
        if (tries >= 3 || !isConflict(err)) throw err;
      }
    }
  }

  private transactionOnce<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.withConnection(async (client) => {
      await client.query("BEGIN");
      let result: T;
      try {
        result = await work({ query: (text, params = []) => client.query(text, params as unknown[]) });
      } catch (err) {
        // After a lost connection or a client-side timeout (a query may still
        // be in flight) there is nothing to roll back on: discard the
        // connection, and the server rolls back when it goes. If even ROLLBACK
        // fails, the same. The original error is the one worth reporting.
        if (!connectionReusableAfter(err)) throw new ConnectionBroken(err);
        await client.query("ROLLBACK").catch(() => {
          throw new ConnectionBroken(err);
        });
        throw err;
      }
      await client.query("COMMIT");
      return result;
    });
  }

  /** Checks out a connection, with its errors captured, for exactly the duration of `work`. */
  async withConnection<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translatePgError(err);
    }
    let broken: Error | undefined;
    // A checked-out connection that dies emits 'error' on the client; with no
    // listener that would be an uncaught exception. The failing query rejects
    // on its own; here we only remember not to reuse the connection.
    const onError = (err: Error) => {
      broken ??= err;
    };
    client.on("error", onError);
    try {
      return await work(client);
    } catch (err) {
      const original = err instanceof ConnectionBroken ? err.original : err;
      if (err instanceof ConnectionBroken || !connectionReusableAfter(original)) {
        broken ??= original instanceof Error ? original : new Error("connection state unknown");
      }
      throw translatePgError(original);
    } finally {
      client.off("error", onError);
      // release(error) destroys the connection instead of pooling it.
      client.release(broken);
    }
  }
}

/** A deadlock (40P01) or serialization failure (40001), as translatePgError wraps it. */
function isConflict(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  return code === "40P01" || code === "40001";
}

/** The work failed and the connection could not even be rolled back. */
class ConnectionBroken extends Error {
  constructor(readonly original: unknown) {
    super("connection broken");
  }
}
