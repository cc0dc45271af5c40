// fast-check arbitraries for fuzzing the Users RPCs: requests of the right
// shape with hostile values, JSON of the wrong shape (wrong types, nulls,
// duplicated keys, both name forms, unknown fields), malformed JSON, broken
// protobuf bytes and broken gRPC framing. Values are drawn partly from pools
// of real ids, names, passwords and sessions, so that many requests reach
// the real code paths (and change real data) instead of failing validation.

import { type DescField, fromJson, type JsonObject, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { Users } from "../../../gen/users/v1/users_pb.js";
import type { Method } from "./rpc.js";
import { grpcFrame } from "./wire.js";

export interface Pools {
  ids: string[];
  usernames: string[];
  emails: string[];
  passwords: string[];
  sessionIds: string[];
  /** Live MFA tickets (Login's answer for a user with TOTP) and unused recovery codes. */
  mfaTickets: string[];
  recoveryCodes: string[];
}

export const METHODS = Object.keys(Users.method) as Method[];

/** Strings that have broken services before: encodings, escapes, injections, look-alikes. */
const NASTY = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "password\u0000tail",
  "\uD800",
  "\uDFFF\uD800",
  "\uFEFF",
  "\u202Eevil",
  "\u200B",
  "e\u0301",
  "\u00E9",
  "\u212A", // Kelvin sign: lowercases to ASCII "k"
  "\u0130", // dotted capital I: lowercases to two code points
  "\uFB03",
  "𝒜𝒷𝒸",
  "👩‍👩‍👧‍👦",
  "%",
  "_",
  "%_%",
  "\\",
  "'",
  '"',
  "' OR '1'='1",
  "'); DROP TABLE users; --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, meant literally
  "${jndi:ldap://x/a}",
  "<script>alert(1)</script>",
  "../../etc/passwd",
  "\r\n",
  "a@b",
  "a@b.c",
  "@example.com",
  "x@example.com ",
  "X@EXAMPLE.COM",
  "null",
  "undefined",
  "0",
  "-1",
  "NaN",
  "__proto__",
  "constructor",
  "usk_",
  "Bearer x",
];

function poolOf(values: string[]): fc.Arbitrary<string> {
  return values.length === 0 ? fc.constant("") : fc.constantFrom(...values);
}

/** What a string field holds, judged by its name: real values of that kind are offered first. */
type Kind = "id" | "username" | "email" | "password" | "session" | "ticket" | "totp" | "recovery" | "other";

function kindOf(field: DescField): Kind {
  if (field.name === "mfa_ticket") return "ticket";
  if (field.name === "code") return "totp";
  if (field.name === "recovery_code") return "recovery";
  if (/password/i.test(field.name)) return "password";
  if (/session/i.test(field.name)) return "session";
  if (field.name === "username") return "username";
  if (field.name === "email") return "email";
  if (/(^|_)id$/.test(field.name)) return "id";
  return "other";
}

/** Plausible new values of each kind (valid ones mostly, so creates and changes succeed). */
function fresh(kind: Kind): fc.Arbitrary<string> {
  const n = fc.integer({ min: 0, max: 40 });
  switch (kind) {
    case "username":
      return n.map((i) => `fz${i}`);
    case "email":
      return n.map((i) => `fz${i}@example.com`);
    case "password":
      return fc.oneof(
        n.map((i) => `fuzz-password-${i}`),
        fc.string({ unit: "grapheme", minLength: 8, maxLength: 20 }),
      );
    case "id":
      return n.map((i) => `fz-${i}`);
    case "ticket":
      return fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);
    case "totp":
      return fc.stringMatching(/^[0-9]{6}$/);
    case "recovery":
      return fc.stringMatching(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    default:
      return fc.string({ maxLength: 12 });
  }
}

/**
 * A string value for a field of the kind: real ones of that kind, plausible
 * new ones, real ones of another kind, random unicode, nasty, huge, or a real
 * one slightly changed.
 */
export function stringValue(pools: Pools, kind: Kind = "other"): fc.Arbitrary<string> {
  const all = poolOf([
    ...pools.ids,
    ...pools.usernames,
    ...pools.emails,
    ...pools.passwords,
    ...pools.sessionIds,
    ...pools.mfaTickets,
    ...pools.recoveryCodes,
  ]);
  const own = {
    id: pools.ids,
    username: pools.usernames,
    email: pools.emails,
    password: pools.passwords,
    session: pools.sessionIds,
    ticket: pools.mfaTickets,
    totp: [],
    recovery: pools.recoveryCodes,
    other: [],
  }[kind];
  return fc.oneof(
    { weight: own.length > 0 ? 4 : 0, arbitrary: poolOf(own) },
    { weight: 4, arbitrary: fresh(kind) },
    { weight: 1, arbitrary: all },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 80 }) },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("a", "é", "𝒜", "%", "0", "\u0000"), fc.integer({ min: 64, max: 60_000 }))
        .map(([c, n]) => c.repeat(n)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(all, fc.constantFrom("upper", "pad", "suffix", "nfd", "cut"))
        .map(([v, how]) =>
          how === "upper"
            ? v.toUpperCase()
            : how === "pad"
              ? ` ${v} `
              : how === "suffix"
                ? `${v}x`
                : how === "nfd"
                  ? v.normalize("NFD")
                  : v.slice(0, -1),
        ),
    },
  );
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function int64Value(): fc.Arbitrary<bigint> {
  return fc.oneof(
    fc.constantFrom(0n, 1n, -1n, 25n, 999n, 1000n, 1001n, 1_000_000_000n, 1_000_000_001n, INT64_MAX, INT64_MIN),
    fc.bigInt({ min: 0n, max: 2000n }),
    fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  );
}

function fieldValue(field: DescField, pools: Pools): fc.Arbitrary<unknown> {
  if (field.fieldKind === "list") {
    return fc.oneof(
      { weight: 4, arbitrary: fc.array(stringValue(pools), { maxLength: 4 }) },
      { weight: 1, arbitrary: fc.array(fc.stringMatching(/^[0-9a-f]{64}$/), { maxLength: 3 }) },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: 900, max: 1100 })
          .map((n) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(64, "0"))),
      },
    );
  }
  if (field.fieldKind === "scalar" && typeof field.scalar === "number" && field.scalar !== 9 /* STRING */) {
    return int64Value().map(String);
  }
  return stringValue(pools, kindOf(field));
}

/** A request of the right shape (proto JSON, camelCase names) for a random RPC: hostile values, or a coherent request. */
export function typedRequest(pools: Pools): fc.Arbitrary<{ method: Method; request: JsonObject }> {
  return fc.oneof({ weight: 2, arbitrary: hostileRequest(pools) }, { weight: 1, arbitrary: coherentRequest(pools) });
}

/** Any RPC with each field (mostly present) drawn from values of its kind or hostile ones. */
function hostileRequest(pools: Pools): fc.Arbitrary<{ method: Method; request: JsonObject }> {
  // Deletes are rarer, so users pile up and the final checks have many to check.
  const method = fc.oneof(...METHODS.map((m) => ({ weight: m === "delete" ? 1 : 3, arbitrary: fc.constant(m) })));
  return method.chain((method) => {
    const fields = Users.method[method].input.fields;
    const values = fields.map((field) => fc.option(fieldValue(field, pools), { nil: undefined, freq: 6 }));
    return fc.tuple(...values).map((list) => {
      const request: Record<string, unknown> = {};
      fields.forEach((field, i) => {
        if (list[i] !== undefined) request[field.jsonName] = list[i];
      });
      return { method, request: request as JsonObject };
    });
  });
}

/**
 * Requests that make sense for the data (a seeded user's right password, a
 * fresh valid account, a real session), so that fuzzing also succeeds at
 * creating, signing in, renaming and changing passwords, not only at failing.
 */
function coherentRequest(pools: Pools): fc.Arbitrary<{ method: Method; request: JsonObject }> {
  const seed = fc.integer({ min: 0, max: Math.max(0, pools.ids.length - 1) });
  const n = fc.integer({ min: 0, max: 60 });
  const newPassword = fc.oneof(
    n.map((i) => `fuzz-password-${i}`),
    fc.string({ unit: "grapheme", minLength: 8, maxLength: 16 }),
  );
  const at = <T>(list: T[], i: number): T => list[i % Math.max(1, list.length)]!;
  const freshLogin = fc.tuple(n, fc.boolean()).map(([i, byEmail]) => ({
    [byEmail ? "email" : "username"]: byEmail ? `fz${i}@example.com` : `fz${i}`,
    password: `fuzz-password-${i}`,
  }));
  return fc.oneof(
    fc.tuple(seed, fc.boolean()).map(([i, byEmail]) => ({
      method: "login" as Method,
      request: {
        [byEmail ? "email" : "username"]: at(byEmail ? pools.emails : pools.usernames, i),
        password: at(pools.passwords, i),
      },
    })),
    freshLogin.map((request) => ({ method: "login" as Method, request })),
    fc.tuple(seed, newPassword).map(([i, to]) => ({
      method: "updatePassword" as Method,
      request: { userId: at(pools.ids, i), oldPassword: at(pools.passwords, i), newPassword: to, confirmPassword: to },
    })),
    fc
      .tuple(
        n,
        fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: newPassword }),
        fc.boolean(),
      )
      .map(([i, password, withId]) => ({
        method: "create" as Method,
        // Mostly the password a fresh login above will try.
        request: {
          ...(withId ? { id: `fz-${i}` } : {}),
          username: `fz${i}`,
          email: `fz${i}@example.com`,
          password: password ?? `fuzz-password-${i}`,
        },
      })),
    fc.tuple(n, n).map(([i, j]) => ({
      method: "update" as Method,
      request: { id: `fz-${i}`, username: `fz${j}`, email: `fz${j}@example.com` },
    })),
    fc
      .tuple(fc.constantFrom<Method>("readSession", "logout", "createToken"), seed)
      .map(([method, i]) => ({ method, request: { sessionId: at(pools.sessionIds, i) } })),
    // Second factors: a real ticket with a code or a real recovery code; a seeded user's factor.
    fc.tuple(seed, seed, fc.boolean(), fresh("totp")).map(([i, j, byRecovery, code]) => ({
      method: "verifyMfa" as Method,
      request: {
        mfaTicket: at(pools.mfaTickets, i),
        ...(byRecovery ? { recoveryCode: at(pools.recoveryCodes, j) } : { code }),
      },
    })),
    fc
      .tuple(
        fc.constantFrom<Method>("enrollTotp", "confirmTotp", "getMfaStatus", "disableTotp", "regenerateRecoveryCodes"),
        seed,
        fc.option(fresh("totp"), { nil: undefined }),
      )
      .map(([method, i, code]) => ({ method, request: { userId: at(pools.ids, i), ...(code ? { code } : {}) } })),
  );
}

/** Raw JSON text for a value that has the wrong type, or a number JSON cannot hold exactly. */
const WRONG_JSON = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? "null"),
  fc.constantFrom(
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1.5",
    "1e400",
    "-1e400",
    "1e-400",
    "12345678901234567890123",
    "[]",
    "{}",
    '""',
    '"1e3"',
    '"0x10"',
    '" 7 "',
    '"-"',
    '"+1"',
    '"1_000"',
    "[null]",
    '{"a":1}',
  ),
);

/**
 * A JSON object text for a random RPC, built key by key: each field under its
 * proto or JSON name (sometimes both, sometimes twice), with a value of the
 * right type or a wrong one, plus unknown keys, in random order and spacing.
 */
export function jsonBody(pools: Pools): fc.Arbitrary<{ method: Method; body: Buffer }> {
  return typedRequest(pools).chain(({ method, request }) => {
    const fields = Users.method[method].input.fields;
    const entry = (field: DescField) =>
      fc.tuple(
        fc.constantFrom(field.name, field.jsonName),
        fc.oneof(
          {
            weight: 3,
            arbitrary: fc.constant(
              request[field.jsonName] === undefined ? "null" : JSON.stringify(request[field.jsonName]),
            ),
          },
          // int64 as a JSON number, as M3O clients send it.
          {
            weight: 1,
            arbitrary: fc.constant(
              typeof request[field.jsonName] === "string" && /^-?\d+$/.test(request[field.jsonName] as string)
                ? (request[field.jsonName] as string)
                : '"x"',
            ),
          },
          { weight: 1, arbitrary: WRONG_JSON },
        ),
      );
    // A request without fields (BeginPasskeyLogin) gets only unknown keys.
    const entries =
      fields.length === 0
        ? fc.constant([] as Array<[string, string]>)
        : fc.array(fc.oneof(...fields.map(entry)), { maxLength: fields.length + 2 });
    const unknown = fc.array(fc.tuple(fc.string({ maxLength: 12 }), WRONG_JSON), { maxLength: 2 });
    return fc.tuple(entries, unknown, fc.constantFrom("", " ", "\n\t")).map(([known, extra, space]) => {
      const parts = [...known, ...extra].map(([key, value]) => `${JSON.stringify(key)}:${space}${value}`);
      return { method, body: Buffer.from(`{${space}${parts.join(`,${space}`)}${space}}`) };
    });
  });
}

/** Bodies that are not a JSON object at all, or not JSON. */
export function malformedJson(pools: Pools): fc.Arbitrary<{ method: Method; body: Buffer }> {
  const valid = jsonBody(pools);
  return fc.constantFrom(...METHODS).chain((method) =>
    fc
      .oneof(
        fc.string({ unit: "binary", maxLength: 200 }).map((s) => Buffer.from(s)),
        valid.chain(({ body }) =>
          fc.integer({ min: 0, max: Math.max(0, body.length - 1) }).map((n) => body.subarray(0, n)),
        ),
        valid.chain(({ body }) =>
          fc
            .tuple(fc.integer({ min: 0, max: body.length }), fc.uint8Array({ minLength: 1, maxLength: 4 }))
            .map(([at, junk]) => Buffer.concat([body.subarray(0, at), junk, body.subarray(at)])),
        ),
        fc
          .jsonValue({ maxDepth: 2 })
          .filter((v) => v === null || typeof v !== "object" || Array.isArray(v))
          .map((v) => Buffer.from(JSON.stringify(v) ?? "")),
        fc.integer({ min: 100, max: 50_000 }).map((n) => Buffer.from(`{"id":${"[".repeat(n)}${"]".repeat(n)}}`)),
        fc.integer({ min: 100, max: 50_000 }).map((n) => Buffer.from(`${'{"a":'.repeat(n)}1${"}".repeat(n)}`)),
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        valid.map(({ body }) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body])),
        valid.map(({ body }) => Buffer.from(body.toString("utf8"), "utf16le")),
      )
      .map((body) => ({ method, body })),
  );
}

/** Protobuf bytes that are broken: random, mutated from a valid request, or crafted to break the wire format. */
export function brokenProtobuf(pools: Pools): fc.Arbitrary<{ method: Method; bytes: Buffer }> {
  const valid = typedRequest(pools).map(({ method, request }) => {
    try {
      return {
        method,
        bytes: Buffer.from(toBinary(Users.method[method].input, fromJson(Users.method[method].input, request))),
      };
    } catch {
      return { method, bytes: Buffer.alloc(0) };
    }
  });
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }),
    }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  );
  const mutated = fc
    .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([{ method, bytes }, mutations]) => {
      let b = Buffer.from(bytes);
      for (const m of mutations) {
        const at = b.length === 0 ? 0 : m.at % b.length;
        if (m.kind === "flip" && b.length > 0) b[at] = b[at]! ^ (1 << m.bit);
        else if (m.kind === "insert") b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        else if (m.kind === "delete") b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
        else if (m.kind === "truncate") b = b.subarray(0, at);
      }
      return { method, bytes: b };
    });
  const crafted = fc.constantFrom(...METHODS).chain((method) =>
    fc
      .constantFrom(
        Buffer.from([0x08, 0x01]), // field 1 as a varint where a string is expected
        Buffer.from([0x0a, 0x05, 0x61]), // length 5, one byte present
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // a 4 GiB length
        Buffer.from([0x0a, ...Array<number>(11).fill(0xff)]), // a varint longer than 10 bytes
        Buffer.from([0x0b, 0x0c]), // group start and end (wire types 3, 4)
        Buffer.from([0x0b]), // a group that never ends
        Buffer.from([0x0e, 0x00]), // wire type 6 (does not exist)
        Buffer.from([0x00, 0x00]), // field number 0
        Buffer.from([0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01]), // the largest field number, unknown
        Buffer.from([0x1a, 0x02, 0xc3, 0x28]), // field 3 as invalid UTF-8
        Buffer.from([0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]), // field 3, a varint over 64 bits
        Buffer.from([0x1d, 0x01, 0x02, 0x03, 0x04]), // field 3 as fixed32
        Buffer.from([0x19, 0x01]), // fixed64, truncated
        Buffer.from([0x12, 0x00, 0x12, 0x00, 0x12, 0x00]), // field 2 three times
      )
      .map((bytes) => ({ method, bytes })),
  );
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...METHODS), fc.uint8Array({ maxLength: 120 }))
        .map(([method, b]) => ({ method, bytes: Buffer.from(b) })),
    },
    { weight: 4, arbitrary: mutated },
    { weight: 2, arbitrary: crafted },
  );
}

/** The gRPC body for a message: usually one proper frame; sometimes broken framing. */
export function grpcBody(message: Buffer): fc.Arbitrary<Buffer> {
  const frame = grpcFrame(message);
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(frame) },
    // The length says more (or less) than follows.
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 1000 }).map((extra) => withLength(frame, message.length + extra)),
    },
    { weight: 1, arbitrary: fc.constant(withLength(Buffer.concat([frame, Buffer.from("trailing")]), message.length)) },
    // Two messages for a unary call; no message; half a frame header.
    { weight: 1, arbitrary: fc.constant(Buffer.concat([frame, frame])) },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((n) => frame.subarray(0, n)) },
    // Unknown flag bits (0x80 is a gRPC-Web trailer frame: no client sends one).
    { weight: 1, arbitrary: fc.constantFrom(0x02, 0x80, 0xfe).map((flags) => grpcFrame(message, flags)) },
  );
}

function withLength(frame: Buffer, length: number): Buffer {
  const copy = Buffer.from(frame);
  copy.writeUInt32BE(length, 1);
  return copy;
}
