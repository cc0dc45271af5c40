// Point reads that arrive in the same event-loop turn go to PostgreSQL as one
// statement. Under load most of a ReadSession's cost on this engine is the
// round trip: node-postgres' protocol work on the event loop and the
// server's parse, plan and execute, per statement. Lookups made in one turn
// (several connections' requests read in one poll) are sent together as
// `unnest(...) WITH ORDINALITY` joined to the table, each answered with the
// row its own statement would have returned: the same predicates, each with
// its own parameters (the clock included), and a statement that runs no
// earlier than the lone one would have. A lone lookup runs its own statement.
import { USER_COLUMNS } from "../rows.js";

interface Waiting<K, R> {
  key: K;
  resolve(row: R | undefined): void;
  reject(err: unknown): void;
}

/** More lookups than this in one turn are sent as several statements. */
const MAX_BATCH = 128;

export class CoalescedRead<K, R> {
  private waiting: Array<Waiting<K, R>> = [];

  constructor(
    /** One lookup, as a statement of its own. */
    private readonly one: (key: K) => Promise<R | undefined>,
    /** Several lookups in one statement: the rows in the order of the keys, undefined where none. */
    private readonly many: (keys: K[]) => Promise<Array<R | undefined>>,
  ) {}

  read(key: K): Promise<R | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, resolve, reject });
      if (this.waiting.length === 1) setImmediate(() => this.flush());
      else if (this.waiting.length >= MAX_BATCH) this.flush();
    });
  }

  private flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    const rows = batch.length === 1 ? this.one(batch[0]!.key).then((row) => [row]) : this.many(batch.map((w) => w.key));
    rows.then(
      (found) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(found[i]);
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}

/** Rows tagged with their key's position (1-based, from WITH ORDINALITY), spread back over the keys. */
export function byPosition<R extends { i: number }>(count: number, rows: R[]): Array<R | undefined> {
  const out = new Array<R | undefined>(count);
  for (const row of rows) out[Number(row.i) - 1] = row;
  return out;
}

/** getSession's statement (../sql.ts) for many sessions: $1 digests, $2 namespaces, $3 clocks. */
export const SESSIONS_BY_DIGEST = `SELECT q.i, s.user_id, u.username, u.email, s.created_ms, s.expires_ms
  FROM unnest($1::bytea[], $2::text[], $3::bigint[]) WITH ORDINALITY AS q(id_digest, namespace, now, i)
  JOIN sessions s ON s.id_digest = q.id_digest AND s.namespace = q.namespace AND s.expires_ms > q.now
  JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id AND u.disabled_ms = 0`;

/** getUser's statement (../sql.ts) for many users: $1 namespaces, $2 ids. */
export const USERS_BY_ID = `SELECT q.i, ${USER_COLUMNS.split(", ")
  .map((column) => `u.${column}`)
  .join(", ")}
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(namespace, id, i)
  JOIN users u ON u.namespace = q.namespace AND u.id = q.id`;
