// The audit log: ListEvents, a namespace's events newest first, a page at a
// time. A page token is opaque to callers: it names where the next page
// starts and a fingerprint of the filters it was made for, so a token is
// refused (not misread) when it is damaged or given with other filters. It
// carries nothing secret (the namespace filter always applies), so it is not signed.
import { createHash } from "node:crypto";
import type { EventQuery, StoredEvent } from "../storage/events.js";
import type { Repository } from "../storage/repository.js";
import { invalidArgument } from "./errors.js";
import { EVENT_TYPES } from "./events.js";
import * as rules from "./validation.js";

export const EVENTS_LIMIT_DEFAULT = 50;
export const EVENTS_LIMIT_MAX = 500;
/** Unix seconds past any real event (year 5138), so the millisecond bound is exact in a double. */
const SECONDS_MAX = 100_000_000_000n;
const PAGE_TOKEN_MAX = 200;

export interface ListEventsInput {
  userId: string;
  type: string;
  since: bigint | number;
  until: bigint | number;
  pageToken: string;
  limit: bigint | number;
}

export interface EventsPage {
  events: StoredEvent[];
  /** "" on the last page. */
  nextPageToken: string;
}

export class AuditService {
  constructor(private readonly deps: { repo: Repository }) {}

  async list(namespace: string, input: ListEventsInput): Promise<EventsPage> {
    const userId = input.userId === "" ? "" : rules.userId(input.userId, "user_id");
    const type = input.type;
    if (type !== "" && !(EVENT_TYPES as readonly string[]).includes(type)) {
      throw invalidArgument("type", `must be empty or one of ${EVENT_TYPES.join(", ")}`, "FIELD_MALFORMED");
    }
    const sinceMs = seconds(input.since, "since") * 1000;
    const untilMs = seconds(input.until, "until") * 1000;
    if (sinceMs > 0 && untilMs > 0 && untilMs <= sinceMs) {
      throw invalidArgument("until", "must be after since", "FIELD_OUT_OF_RANGE");
    }
    const limit = BigInt(input.limit);
    if (limit < 0n || limit > BigInt(EVENTS_LIMIT_MAX)) {
      throw invalidArgument(
        "limit",
        `must be from 0 to ${EVENTS_LIMIT_MAX} (0 means ${EVENTS_LIMIT_DEFAULT})`,
        "FIELD_OUT_OF_RANGE",
      );
    }
    const filters = fingerprint([userId, type, String(sinceMs), String(untilMs)]);
    const query: EventQuery = {
      namespace,
      userId,
      type,
      sinceMs,
      untilMs,
      beforeId: input.pageToken === "" ? 0 : readPageToken(input.pageToken, filters),
      limit: limit === 0n ? EVENTS_LIMIT_DEFAULT : Number(limit),
    };
    // One more than asked tells whether there is a next page.
    const rows = await this.deps.repo.listEvents({ ...query, limit: query.limit + 1 });
    const events = rows.slice(0, query.limit);
    const last = events[events.length - 1];
    return { events, nextPageToken: rows.length > query.limit && last ? pageToken(last.id, filters) : "" };
  }
}

function seconds(value: bigint | number, field: string): number {
  const n = BigInt(value);
  if (n < 0n || n > SECONDS_MAX) {
    throw invalidArgument(field, `must be from 0 to ${SECONDS_MAX} unix seconds (0: no bound)`, "FIELD_OUT_OF_RANGE");
  }
  return Number(n);
}

function fingerprint(parts: string[]): string {
  return createHash("sha256").update(parts.join("\n")).digest("base64url").slice(0, 16);
}

function pageToken(beforeId: number, filters: string): string {
  return Buffer.from(JSON.stringify({ b: beforeId, f: filters })).toString("base64url");
}

function readPageToken(token: string, filters: string): number {
  const refused = (rule: string) => invalidArgument("page_token", rule, "FIELD_MALFORMED");
  if (token.length > PAGE_TOKEN_MAX || !/^[A-Za-z0-9_-]+$/.test(token)) throw refused("is not a page token");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw refused("is not a page token");
  }
  const { b, f } = (parsed ?? {}) as { b?: unknown; f?: unknown };
  if (typeof b !== "number" || !Number.isSafeInteger(b) || b < 1 || typeof f !== "string") {
    throw refused("is not a page token");
  }
  if (f !== filters) throw refused("was made for other filters: give the same user_id, type, since and until");
  return b;
}
