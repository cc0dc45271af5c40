// Search by username and/or email prefix, oldest first, fast whatever the
// prefix: a page in a few milliseconds with a million users in a namespace.
//
// No single index serves both a prefix range and creation order, and SQLite
// has no statistics telling it how many users a prefix matches, so it used to
// pick one plan for every prefix: the range on users_username, then a sort of
// every match by created_ms. A one-letter prefix matches 1/26 of everyone:
// 40,000 rows fetched and sorted for a page of 10 (over 100 ms). Walking the
// users in creation order and keeping those that match is the other plan:
// quick for a common prefix, a scan of the whole namespace for a rare one.
//
// So the plan is chosen per call, from a count of the matches that stops at
// RANGE_SORT_MAX (read from the prefix's own index, so it costs at most that
// many index entries):
// - fewer matches: the range scan, sorting fewer than RANGE_SORT_MAX rows;
// - more: the walk in creation order over users_created_names, an index that
//   holds username and email, so rows that do not match are skipped without
//   reading the table; with at least RANGE_SORT_MAX matches among N users, a
//   page of L comes after about L × N / RANGE_SORT_MAX index entries.
// Either way a page costs at most a few thousand index entries.
import type { Database as Db, Statement } from "better-sqlite3";
import { prefixUpperBound } from "../prefix-range.js";
import type { UserSearch } from "../repository.js";
import { USER_COLUMNS, type UserRecord } from "../rows.js";

/** Up to this many matches, the range scan and sort is the cheaper plan. */
export const RANGE_SORT_MAX = 1000;

type Column = "username" | "email";
const PREFIX_INDEX: Record<Column, string> = { username: "users_username", email: "users_email" };

export class SqliteUserSearch {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Db) {}

  /** The page of matching users, ordered by (created_ms, id). */
  run(namespace: string, query: UserSearch): UserRecord[] {
    const params: Record<string, unknown> = { namespace, limit: query.limit, offset: query.offset };
    const filters: string[] = [];
    const columns: Column[] = [];
    for (const [column, prefix] of [
      ["username", query.usernamePrefix],
      ["email", query.emailPrefix],
    ] as const) {
      if (prefix === "") continue;
      columns.push(column);
      filters.push(rangeOf(column, prefix, params));
    }
    if (columns.length === 0) return this.page("users_created_names", [], params);

    // The prefix with the fewest matches decides the plan.
    let best: { column: Column; count: number } | undefined;
    for (const [i, column] of columns.entries()) {
      const count = this.countUpTo(column, filters[i]!, params);
      if (!best || count < best.count) best = { column, count };
    }
    const index = best!.count < RANGE_SORT_MAX ? PREFIX_INDEX[best!.column] : "users_created_names";
    return this.page(index, filters, params);
  }

  /** Matches of one prefix, counted in its own index, up to RANGE_SORT_MAX. */
  private countUpTo(column: Column, filter: string, params: Record<string, unknown>): number {
    const stmt = this.statement(
      `SELECT count(*) AS n FROM (SELECT 1 FROM users INDEXED BY ${PREFIX_INDEX[column]}
       WHERE namespace = @namespace AND ${filter} LIMIT ${RANGE_SORT_MAX})`,
    );
    return (stmt.get(pick(params, filter)) as { n: number }).n;
  }

  /** One page: ids found through `index`, then the rows by primary key. */
  private page(index: string, filters: string[], params: Record<string, unknown>): UserRecord[] {
    const where = ["namespace = @namespace", ...filters].join(" AND ");
    const stmt = this.statement(
      `SELECT ${USER_COLUMNS.split(", ")
        .map((c) => `u.${c}`)
        .join(", ")}
       FROM (SELECT id, created_ms FROM users INDEXED BY ${index} WHERE ${where}
             ORDER BY created_ms, id LIMIT @limit OFFSET @offset) AS page
       JOIN users u ON u.namespace = @namespace AND u.id = page.id
       ORDER BY page.created_ms, page.id`,
    );
    return stmt.all(params) as UserRecord[];
  }

  private statement(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}

/** The range of strings starting with `prefix`, as SQL on `column`, with its parameters added. */
function rangeOf(column: Column, prefix: string, params: Record<string, unknown>): string {
  params[`${column}_lo`] = prefix;
  const upper = prefixUpperBound(prefix);
  if (upper === undefined) return `${column} >= @${column}_lo`;
  params[`${column}_hi`] = upper;
  return `${column} >= @${column}_lo AND ${column} < @${column}_hi`;
}

/** better-sqlite3 refuses named parameters a statement does not use: pass only the filter's. */
function pick(params: Record<string, unknown>, filter: string): Record<string, unknown> {
  const names = ["namespace", ...[...filter.matchAll(/@(\w+)/g)].map((m) => m[1]!)];
  return Object.fromEntries(names.map((name) => [name, params[name]]));
}
