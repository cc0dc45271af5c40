// SQLite's queries for the Search plans of ../user-search.ts. SQLite keeps no
// statistics on how many users a prefix matches, so each query names its
// index (INDEXED BY): the plan is chosen by user-search.ts, never by SQLite.
// Every index read here holds the columns the filters and the order need, so
// no step touches the table except to fetch the page's own rows.
import type { Database as Db, Statement } from "better-sqlite3";
import type { UserSearch } from "../repository.js";
import type { UserRecord } from "../rows.js";
import {
  type PrefixColumn,
  pageParameters,
  pageSql,
  prefixParameters,
  prefixWhere,
  type SearchOutcome,
  type SearchSteps,
  searchUsers,
} from "../user-search.js";

/** The unique index of each prefix column: the narrowest entries, for counting. */
const COUNT_INDEX: Record<PrefixColumn, string> = { username: "users_username", email: "users_email" };
/** Each prefix column's index with creation order and the other column (migration 30). */
const RANGE_INDEX: Record<PrefixColumn, string> = { username: "users_username_order", email: "users_email_order" };
/** Users in creation order with their username and email (migration 2). */
const WALK_INDEX = "users_created_names";

export class SqliteUserSearch {
  private readonly statements = new Map<string, Statement>();

  /** `guard` runs each statement as the repository runs every read (retries, error translation). */
  constructor(
    private readonly db: Db,
    private readonly scanMax: number,
    private readonly guard: <T>(work: () => T) => Promise<T>,
  ) {}

  /** The page of matching users, ordered by (created_ms, id), and how it was found. */
  run(namespace: string, query: UserSearch): Promise<SearchOutcome> {
    return searchUsers(this.steps(namespace), query, this.scanMax);
  }

  private steps(namespace: string): SearchSteps {
    const page = (source: string, values: Record<string, unknown>) =>
      this.all<UserRecord>(pageSql(source, "CROSS JOIN"), { namespace, ...values });
    return {
      count: async (filter, cap) => {
        const [row] = await this.all<{ n: number }>(
          `SELECT count(*) AS n FROM (SELECT 1 FROM users INDEXED BY ${COUNT_INDEX[filter.column]}
           WHERE namespace = @namespace AND ${prefixWhere([filter])} LIMIT @cap)`,
          { namespace, cap, ...prefixParameters([filter]) },
        );
        return row!.n;
      },
      range: (by, filters, query) =>
        page(`users INDEXED BY ${RANGE_INDEX[by.column]} WHERE namespace = @namespace AND ${prefixWhere(filters)}`, {
          ...prefixParameters(filters),
          ...pageParameters(query),
        }),
      walk: (window, filters, query) =>
        window === undefined
          ? page(`users INDEXED BY ${WALK_INDEX} WHERE namespace = @namespace`, pageParameters(query))
          : page(
              `(SELECT id, created_ms, username, email FROM users INDEXED BY ${WALK_INDEX}
                WHERE namespace = @namespace ORDER BY created_ms, id LIMIT @window) WHERE ${prefixWhere(filters)}`,
              { window, ...prefixParameters(filters), ...pageParameters(query) },
            ),
    };
  }

  private all<R>(sql: string, values: Record<string, unknown>): Promise<R[]> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    const prepared = stmt;
    return this.guard(() => prepared.all(values) as R[]);
  }
}
