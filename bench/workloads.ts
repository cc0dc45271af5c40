// The requests each benchmarked call sends, per protocol, from the seeded
// data: every call takes turns through 1,000 different users, sessions or
// prefixes. The floors get the very same requests as the service.
import type { GrpcRequestSpec, HttpRequestSpec } from "./load-spec.js";
import { PASSWORD, type Seeded } from "./seed.js";

export type Call = "Login" | "ReadSession" | "Read" | "Search" | "SearchDeep" | "SearchPair" | "Create";
export type HttpProtocol = "connect-json" | "m3o";

/** Every Search asks for one page of this many users. */
export const SEARCH_LIMIT = 10;

interface CallShape {
  /** The RPC called, when not the call's own name. */
  rpc?: string;
  /** Request fields by their proto names; values taken from the seed in turn. */
  fields(seed: Seeded): Array<Record<string, string | number>>;
  /** For calls that must differ every time (Create): the fields with "{{n}}" to fill. */
  unique?: Record<string, string>;
}

const SHAPES: Record<Call, CallShape> = {
  Login: { fields: (s) => s.usernames.map((username) => ({ username, password: PASSWORD })) },
  ReadSession: { fields: (s) => s.sessionIds.map((session_id) => ({ session_id })) },
  Read: { fields: (s) => s.userIds.map((id) => ({ id })) },
  Search: { fields: (s) => s.prefixes.map((username) => ({ username, limit: SEARCH_LIMIT })) },
  // The worst Searches of issue 12 in the seed's names: one user far into a
  // two-letter prefix's matches ({"username":"u0019","limit":1,"offset":1000}),
  // and two prefixes that no user has together ({"username":"u00","email":"u01"}).
  // Before the bounded plans, each walked most of the namespace.
  SearchDeep: {
    rpc: "Search",
    fields: (s) => s.usernames.map((u) => ({ username: u.slice(0, 2), limit: 1, offset: 1000 })),
  },
  SearchPair: {
    rpc: "Search",
    fields: (s) =>
      s.usernames.map((u, i) => {
        const other = s.usernames.slice(i + 1).find((v) => v.slice(0, 2) !== u.slice(0, 2)) ?? "zz";
        return { username: u.slice(0, 2), email: other.slice(0, 2), limit: SEARCH_LIMIT };
      }),
  },
  Create: {
    fields: () => [],
    unique: { username: "b{{n}}", email: "b{{n}}@example.com", password: PASSWORD },
  },
};

/** proto3 JSON (Connect) uses lowerCamelCase names; M3O uses the proto names. */
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const rename = (fields: Record<string, unknown>, convert: (name: string) => string) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [convert(k), v]));

export function httpRequests(call: Call, protocol: HttpProtocol, seed: Seeded): HttpRequestSpec {
  const shape = SHAPES[call];
  const convert = protocol === "connect-json" ? camel : (name: string) => name;
  const spec: HttpRequestSpec = {
    path: protocol === "connect-json" ? `/users.v1.Users/${shape.rpc ?? call}` : `/users/Users/${shape.rpc ?? call}`,
    headers: {
      "content-type": "application/json",
      ...(protocol === "connect-json" ? { "connect-protocol-version": "1" } : {}),
      authorization: `Bearer ${seed.apiKey}`,
    },
    bodies: shape.fields(seed).map((f) => JSON.stringify(rename(f, convert))),
  };
  if (shape.unique) spec.uniqueTemplate = JSON.stringify(rename(shape.unique, convert));
  return spec;
}

export function grpcRequests(call: Call, seed: Seeded): GrpcRequestSpec {
  return {
    method: SHAPES[call].rpc ?? call,
    metadata: { authorization: `Bearer ${seed.apiKey}` },
    requests: SHAPES[call].fields(seed),
  };
}
