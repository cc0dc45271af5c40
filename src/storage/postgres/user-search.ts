// PostgreSQL's queries for the Search plans of ../user-search.ts. PostgreSQL
// would pick its own plan from statistics, and a LIMIT with a rare combination
// of prefixes is exactly where its estimates mislead it into a walk of the
// whole namespace: each query's shape fixes the plan instead. The range reads
// the prefix's matches in a MATERIALIZED CTE (read whole first, then filtered
// and sorted); the walk reads a LIMITed subquery in creation order, which
// PostgreSQL never merges with the filters around it.
import type { UserSearch } from "../repository.js";
import type { UserRecord } from "../rows.js";
import {
  pageParameters,
  pageSql,
  prefixParameters,
  prefixWhere,
  type SearchOutcome,
  type SearchSteps,
  searchUsers,
} from "../user-search.js";
import type { Queryable } from "./database.js";
import { toPositional } from "./named-parameters.js";

export function searchWithPlan(
  db: Queryable,
  namespace: string,
  query: UserSearch,
  scanMax: number,
): Promise<SearchOutcome> {
  const all = async <R extends object>(text: string, named: Record<string, unknown>): Promise<R[]> => {
    const { text: sql, values } = toPositional(text, { namespace, ...named });
    return (await db.query(sql, values)).rows as R[];
  };
  const steps: SearchSteps = {
    count: async (filter, cap) => {
      const [row] = await all<{ n: number }>(
        `SELECT count(*)::int AS n FROM (
           SELECT 1 FROM users WHERE namespace = @namespace AND ${prefixWhere([filter])} LIMIT @cap) AS matches`,
        { cap, ...prefixParameters([filter]) },
      );
      return row!.n;
    },
    range: (by, filters, q) =>
      all<UserRecord>(
        `WITH matches AS MATERIALIZED (
           SELECT id, created_ms, username, email FROM users WHERE namespace = @namespace AND ${prefixWhere([by])})
         ${pageSql(`matches WHERE ${prefixWhere(filters)}`, "JOIN")}`,
        { ...prefixParameters(filters), ...pageParameters(q) },
      ),
    walk: (window, filters, q) =>
      window === undefined
        ? all<UserRecord>(pageSql("users WHERE namespace = @namespace", "JOIN"), pageParameters(q))
        : all<UserRecord>(
            pageSql(
              `(SELECT id, created_ms, username, email FROM users WHERE namespace = @namespace
                      ORDER BY created_ms, id LIMIT @window) AS walked WHERE ${prefixWhere(filters)}`,
              "JOIN",
            ),
            { window, ...prefixParameters(filters), ...pageParameters(q) },
          ),
  };
  return searchUsers(steps, query, scanMax);
}
