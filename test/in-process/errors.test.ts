// Errors: the catalogue of reasons (each with its code and its one message,
// listed in docs/api.md), the one mapping from service and storage errors to
// protocol codes and details (checked against docs/api.md's Errors table), and
// each code the database or the hashing queue can cause, in process over real
// faults.
import fs from "node:fs";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { REASONS, type Reason } from "../../src/service/error-codes.js";
import { type ErrorCode, ServiceError } from "../../src/service/errors.js";
import { StorageUnavailable, UniqueViolation } from "../../src/storage/repository.js";
import { HTTP_STATUS, toConnectError } from "../../src/transport/error-mapping.js";
import { ENGINES } from "../support/databases.js";
import { failure } from "../support/errors.js";
import { hideTable, holdWriteLock } from "../support/faults.js";
import { type InProcess, startInProcess } from "../support/services.js";

const README = fs.readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
const SRC = new URL("../../src/", import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

describe("the catalogue of reasons", () => {
  test("every reason is UPPER_SNAKE_CASE of at most 63 characters, as ErrorInfo asks", () => {
    for (const reason of Object.keys(REASONS)) expect(reason).toMatch(/^[A-Z][A-Z0-9_]{0,61}[A-Z0-9]$/);
  });

  test("docs/api.md's reason table lists every reason with its code, and nothing else", () => {
    // The table under the header "| Reason | Code | When |", up to its first non-row line.
    const table = README.split("| Reason | Code | When |\n")[1]?.split(/\n(?!\|)/)[0] ?? "";
    const rows = [...table.matchAll(/^\| `([A-Z0-9_]+)` \| ([A-Za-z]+) \|/gm)].map((r) => [r[1], r[2]]);
    const expected = Object.entries(REASONS).map(([reason, spec]) => [
      reason,
      Code[Object.values(Code).find((c) => typeof c === "number" && spec.code === codeName(c)) as Code],
    ]);
    expect(rows).toEqual(expected);
  });

  test("every ServiceError in src/ names a reason of the catalogue (none is built from a bare code)", () => {
    const bare: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const text = fs.readFileSync(file, "utf8");
      for (const match of text.matchAll(/new ServiceError\(\s*"([^"]+)"/g)) {
        if (!(match[1]! in REASONS)) bare.push(`${path.relative(SRC, file)}: ${match[0]}`);
      }
    }
    expect(bare).toEqual([]);
  });

  test("a reason fixes the code and writes the message; validation reasons carry field and rule", () => {
    const err = new ServiceError("FIELD_TOO_LONG", { field: "email", rule: "must be at most 254 characters" });
    expect([err.code, err.reason, err.message]).toEqual([
      "invalid_argument",
      "FIELD_TOO_LONG",
      "email: must be at most 254 characters",
    ]);
    const throttled = new ServiceError("LOGIN_THROTTLED", { retryAfterSeconds: 30 });
    expect(throttled.message).toBe("too many failed attempts for this account; retry in 30 s");
  });

  test("the generic form (a bare code) still works, with the code in upper case as its reason", () => {
    const err = new ServiceError("permission_denied", "not for you");
    expect([err.code, err.reason, err.message]).toEqual(["permission_denied", "PERMISSION_DENIED", "not for you"]);
  });
});

function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

describe("the error mapping", () => {
  test("docs/api.md's Errors table states the gRPC code and HTTP status of each code", () => {
    const rows = [...README.matchAll(/^\| ([A-Za-z]+) \| (\d+) \| (\d+)[^|]*\|/gm)];
    expect(rows.map((r) => r[1])).toEqual([
      "InvalidArgument",
      "Unauthenticated",
      "PermissionDenied",
      "NotFound",
      "AlreadyExists",
      "Aborted",
      "ResourceExhausted",
      "Unavailable",
      "DeadlineExceeded",
      "Internal",
    ]);
    for (const [, name, grpc, http] of rows) {
      const code = Code[name as keyof typeof Code];
      expect({ name, grpc: code, http: HTTP_STATUS[code] }).toEqual({ name, grpc: Number(grpc), http: Number(http) });
    }
  });

  test.each<[ErrorCode, Code]>([
    ["invalid_argument", Code.InvalidArgument],
    ["not_found", Code.NotFound],
    ["already_exists", Code.AlreadyExists],
    ["unauthenticated", Code.Unauthenticated],
    ["permission_denied", Code.PermissionDenied],
    ["resource_exhausted", Code.ResourceExhausted],
    ["failed_precondition", Code.FailedPrecondition],
    ["aborted", Code.Aborted],
    ["unavailable", Code.Unavailable],
    ["deadline_exceeded", Code.DeadlineExceeded],
  ])("service code %s becomes %s with its message", (name, code) => {
    const { error, unexpected } = toConnectError(new ServiceError(name, "the message"));
    expect([error.code, error.rawMessage, unexpected]).toEqual([code, "the message", false]);
  });

  test("retry-after travels as a header and as RetryInfo", () => {
    const { error } = toConnectError(new ServiceError("HASHING_BUSY", { retryAfterSeconds: 7 }));
    expect(error.metadata.get("retry-after")).toBe("7");
    expect(error.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(7n);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("HASHING_BUSY");
  });

  test.each(Object.keys(REASONS) as Reason[])("reason %s becomes its code with ErrorInfo in domain users.v1", (r) => {
    const { error } = toConnectError(new ServiceError(r, { field: "f", rule: "the rule", retryAfterSeconds: 1 }));
    expect(codeName(error.code)).toBe(REASONS[r].code);
    const [info] = error.findDetails(ErrorInfoSchema);
    expect([info?.reason, info?.domain]).toEqual([r, "users.v1"]);
  });

  test("a field's rule travels as ErrorInfo metadata and as a BadRequest field violation", () => {
    const { error } = toConnectError(new ServiceError("FIELD_REQUIRED", { field: "username", rule: "required" }));
    expect({ ...error.findDetails(ErrorInfoSchema)[0]?.metadata }).toEqual({ field: "username", rule: "required" });
    expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]).toMatchObject({
      field: "username",
      description: "required",
      reason: "FIELD_REQUIRED",
    });
  });

  test("storage errors: unavailable, timed out, and a uniqueness clash", () => {
    expect(toConnectError(new StorageUnavailable("down")).error.code).toBe(Code.Unavailable);
    expect(toConnectError(new StorageUnavailable("slow", true)).error.code).toBe(Code.DeadlineExceeded);
    const clash = toConnectError(new UniqueViolation("email")).error;
    expect([clash.code, clash.rawMessage]).toEqual([Code.AlreadyExists, "email: already taken in this namespace"]);
    expect(clash.findDetails(ErrorInfoSchema)[0]?.reason).toBe("ALREADY_TAKEN");
    expect(toConnectError(new StorageUnavailable("down")).error.findDetails(ErrorInfoSchema)[0]?.reason).toBe(
      "DATABASE_UNAVAILABLE",
    );
  });

  test("anything else is Internal with no detail, marked unexpected for the log", () => {
    const { error, unexpected } = toConnectError(new TypeError("secret detail: row 42 of table users"));
    expect([error.code, error.rawMessage, unexpected]).toEqual([Code.Internal, "internal error", true]);
    expect(toConnectError("a string").error.rawMessage).toBe("internal error");
    expect(toConnectError("a string").error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INTERNAL");
  });

  test("a ConnectError passes through; an Internal one still counts as unexpected", () => {
    const given = new ConnectError("bad", Code.InvalidArgument);
    expect(toConnectError(given)).toEqual({ error: given, unexpected: false });
    expect(given.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_ARGUMENT");
    expect(toConnectError(new ConnectError("x", Code.Internal)).unexpected).toBe(true);
  });
});

describe.each(ENGINES)("errors the database causes, in process (%s)", (engine) => {
  let s: InProcess;

  beforeAll(async () => {
    s = await startInProcess({ engine, storageTimeoutMs: 200 });
    // One call first, so the API key is cached and the faults below hit the RPC itself.
    await s.client().search({});
  });
  afterAll(() => s.close());

  test("a write that cannot get the lock in time is DeadlineExceeded; it works again afterwards", async () => {
    const fault = await holdWriteLock(s.databaseUrl);
    try {
      const err = await failure(
        s.client().create({ username: "locked", email: "locked@example.com", password: "password1" }),
      );
      expect([err.code, err.rawMessage]).toEqual([Code.DeadlineExceeded, "the database did not answer in time; retry"]);
    } finally {
      await fault.release();
    }
    expect(
      (await s.client().create({ username: "locked", email: "locked@example.com", password: "password1" })).user,
    ).toBeDefined();
  });

  test("an unexpected database error is Internal with no detail; the detail is reported with the request id", async () => {
    const fault = await hideTable(s.databaseUrl, "sessions");
    let err: ConnectError;
    try {
      err = await failure(s.client().readSession({ sessionId: "some-session-id" }));
    } finally {
      await fault.release();
    }
    expect([err.code, err.rawMessage]).toEqual([Code.Internal, "internal error"]);
    expect(err.message).not.toMatch(/sessions|table|relation/i);
    const report = s.reports.at(-1)!;
    expect(report).toMatchObject({ rpc: "ReadSession", code: "internal", message: "internal error" });
    expect(String(report.cause)).toMatch(/sessions/);
    expect(err.metadata.get("x-request-id")).toBe(report.requestId);
    expect((await failure(s.client().readSession({ sessionId: "some-session-id" }))).code).toBe(Code.NotFound);
  });

  test("a closed database is Unavailable", async () => {
    const closing = await startInProcess({ engine });
    await closing.client().search({});
    await closing.repo.close();
    const err = await failure(closing.client().read({ id: "anyone" }));
    expect([err.code, err.rawMessage]).toEqual([Code.Unavailable, "the database is unavailable; retry shortly"]);
  });
});

describe("errors the hashing queue causes, in process", () => {
  let s: InProcess;

  beforeAll(async () => {
    // One hash at a time and none waiting.
    s = await startInProcess({ hashConcurrency: 1, hashQueueMax: 0 });
  });
  afterAll(() => s.close());

  test("a hash that would have to wait when the line is full is ResourceExhausted with retry-after", async () => {
    let release!: () => void;
    const held = s.hasher.queue.run(() => new Promise<void>((resolve) => (release = resolve)));
    const client = s.client();
    try {
      for (const call of [
        () => client.create({ username: "first", email: "first@example.com", password: "password1" }),
        () => client.login({ username: "first", password: "password1" }),
      ]) {
        const err = await failure(call());
        expect([err.code, err.rawMessage]).toEqual([
          Code.ResourceExhausted,
          "the service is busy hashing passwords; retry shortly",
        ]);
        expect(err.metadata.get("retry-after")).toBe("1");
      }
    } finally {
      release();
      await held;
    }
    expect(
      (await client.create({ username: "first", email: "first@example.com", password: "password1" })).user,
    ).toBeDefined();
  });
});
