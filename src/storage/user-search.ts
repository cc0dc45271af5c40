// Search by username and/or email prefix, oldest first, with a bound on the
// index entries any call may read, on every engine.
//
// No index serves both a prefix range and creation order, so there are two
// ways to a page, and which is cheap depends on the data:
// - the range: read every match of the narrowest prefix from its own index,
//   keep those matching the other prefix, sort them by creation; costs as many
//   entries as that prefix matches;
// - the walk: go through users in creation order, keep the matches, stop once
//   the page is full; cheap for a common prefix near the start, but a rare
//   (combination of) prefix(es), or a deep offset, walks the whole namespace.
//
// The plan is chosen per call from counts of each prefix's matches that stop
// early (read from the prefix's own index), and no step reads more than
// scanMax entries:
// 1. a prefix with at most RANGE_SORT_MAX matches: the range;
// 2. else the walk over the first scanMax users, which stops as soon as the
//    page is full: when it fills within them, it is exact;
// 3. else the range, when the narrowest prefix has at most scanMax matches
//    (counted now, up to scanMax);
// 4. else no plan can answer within the bound (two broad prefixes that seldom
//    meet, or a deep offset into a broad prefix): SearchTooBroad, rather than
//    holding the database (and, for SQLite, the event loop) for a walk of
//    everyone. A namespace of at most scanMax users is always answered.
// So a call reads at most about 4 × scanMax index entries, whatever the data.
import { prefixUpperBound } from "./prefix-range.js";
import { SearchTooBroad, type UserSearch } from "./repository.js";
import { USER_COLUMNS, type UserRecord } from "./rows.js";

/** Index entries a step of a Search may read (SEARCH_SCAN_MAX). */
export const SEARCH_SCAN_MAX_DEFAULT = 10_000;
/** Up to this many matches, the range and its sort cost less than any walk can save. */
export const RANGE_SORT_MAX = 2000;

export type PrefixColumn = "username" | "email";

/** Rows whose `column` starts with `lo`: `column >= lo AND column < hi` (no upper bound when hi is undefined). */
export interface PrefixFilter {
  column: PrefixColumn;
  lo: string;
  hi: string | undefined;
}

/** The queries an engine runs for the plans; each returns rows in (created_ms, id) order. */
export interface SearchSteps {
  /** The matches of one prefix, counted in its own index, up to `cap`. */
  count(filter: PrefixFilter, cap: number): Promise<number>;
  /** The page from every match of `by` (read from its index), filtered by all of `filters`. */
  range(by: PrefixFilter, filters: PrefixFilter[], query: UserSearch): Promise<UserRecord[]>;
  /** The page among the first `window` users in creation order, or among all of them when window is undefined. */
  walk(window: number | undefined, filters: PrefixFilter[], query: UserSearch): Promise<UserRecord[]>;
}

export type SearchPlan = "walk" | "range" | "bounded walk";

export interface SearchOutcome {
  rows: UserRecord[];
  /** The plan that gave the rows. */
  plan: SearchPlan;
  /** At most this many index entries were read, counts included. */
  entriesRead: number;
}

export function prefixFilters(query: UserSearch): PrefixFilter[] {
  const filters: PrefixFilter[] = [];
  if (query.usernamePrefix !== "")
    filters.push({ column: "username", lo: query.usernamePrefix, hi: prefixUpperBound(query.usernamePrefix) });
  if (query.emailPrefix !== "")
    filters.push({ column: "email", lo: query.emailPrefix, hi: prefixUpperBound(query.emailPrefix) });
  return filters;
}

export async function searchUsers(steps: SearchSteps, query: UserSearch, scanMax: number): Promise<SearchOutcome> {
  const filters = prefixFilters(query);
  if (filters.length === 0) {
    // Everyone in creation order: exactly offset + limit entries.
    return { rows: await steps.walk(undefined, [], query), plan: "walk", entriesRead: query.offset + query.limit };
  }
  let entriesRead = 0;
  /** The prefix with the fewest matches, counted up to `upTo` (more: upTo + 1). */
  const narrowest = async (upTo: number) => {
    let best: { filter: PrefixFilter; count: number } | undefined;
    for (const filter of filters) {
      // Past upTo (or past the narrowest so far) the exact count changes nothing.
      const count = await steps.count(filter, Math.min(upTo + 1, best?.count ?? upTo + 1));
      entriesRead += count;
      if (!best || count < best.count) best = { filter, count };
    }
    return best!;
  };
  const range = async (by: { filter: PrefixFilter; count: number }): Promise<SearchOutcome> => {
    const rows = await steps.range(by.filter, filters, query);
    return { rows, plan: "range", entriesRead: entriesRead + by.count };
  };

  const rareMax = Math.min(RANGE_SORT_MAX, scanMax);
  const rare = await narrowest(rareMax);
  if (rare.count <= rareMax) return range(rare);
  // Broad prefixes: the page is usually near the start in creation order.
  const walked = await steps.walk(scanMax, filters, query);
  entriesRead += scanMax;
  if (walked.length === query.limit) return { rows: walked, plan: "bounded walk", entriesRead };
  const bounded = await narrowest(scanMax);
  if (bounded.count <= scanMax) return range(bounded);
  throw new SearchTooBroad(scanMax);
}

/** The filters as SQL on named parameters `@<column>_lo` / `@<column>_hi` (see prefixParameters). */
export function prefixWhere(filters: PrefixFilter[]): string {
  return filters
    .map((f) => `${f.column} >= @${f.column}_lo${f.hi === undefined ? "" : ` AND ${f.column} < @${f.column}_hi`}`)
    .join(" AND ");
}

export function prefixParameters(filters: PrefixFilter[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const f of filters) {
    values[`${f.column}_lo`] = f.lo;
    if (f.hi !== undefined) values[`${f.column}_hi`] = f.hi;
  }
  return values;
}

const PAGE_COLUMNS = USER_COLUMNS.split(", ")
  .map((c) => `u.${c}`)
  .join(", ");

/**
 * One page of a plan, on both engines: ids in creation order from `source` (a
 * FROM clause over rows with id and created_ms), then the page's own rows by
 * primary key. Parameters: @namespace, @limit, @offset and the source's.
 * `join` is SQLite's CROSS JOIN, which keeps the page as the outer loop (with
 * no statistics, SQLite may otherwise loop over every user of the namespace),
 * or a plain JOIN where the planner can be trusted with two tables.
 */
export function pageSql(source: string, join: "CROSS JOIN" | "JOIN"): string {
  return `SELECT ${PAGE_COLUMNS}
    FROM (SELECT id, created_ms FROM ${source} ORDER BY created_ms, id LIMIT @limit OFFSET @offset) AS page
    ${join} users u ON u.namespace = @namespace AND u.id = page.id
    ORDER BY page.created_ms, page.id`;
}

export function pageParameters(query: UserSearch): { limit: number; offset: number } {
  return { limit: query.limit, offset: query.offset };
}
