// Errors: the one mapping from service and storage errors to protocol codes
// (checked against the README's Errors table), and each code the database or
// the hashing queue can cause, in process over real faults.
import fs from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type ErrorCode, ServiceError } from "../../src/service/errors.js";
import { StorageUnavailable, UniqueViolation } from "../../src/storage/repository.js";
import { HTTP_STATUS, toConnectError } from "../../src/transport/error-mapping.js";
import { ENGINES } from "../support/databases.js";
import { failure } from "../support/errors.js";
import { hideTable, holdWriteLock } from "../support/faults.js";
import { type InProcess, startInProcess } from "../support/services.js";

describe("the error mapping", () => {
  test("the README's Errors table states the gRPC code and HTTP status of each code", () => {
    const readme = fs.readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const rows = [...readme.matchAll(/^\| ([A-Za-z]+) \| (\d+) \| (\d+)[^|]*\|/gm)];
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

  test("retry-after travels as a header", () => {
    const { error } = toConnectError(new ServiceError("resource_exhausted", "slow down", { retryAfterSeconds: 7 }));
    expect(error.metadata.get("retry-after")).toBe("7");
  });

  test("storage errors: unavailable, timed out, and a uniqueness clash", () => {
    expect(toConnectError(new StorageUnavailable("down")).error.code).toBe(Code.Unavailable);
    expect(toConnectError(new StorageUnavailable("slow", true)).error.code).toBe(Code.DeadlineExceeded);
    const clash = toConnectError(new UniqueViolation("email")).error;
    expect([clash.code, clash.rawMessage]).toEqual([Code.AlreadyExists, "email: already taken in this namespace"]);
  });

  test("anything else is Internal with no detail, marked unexpected for the log", () => {
    const { error, unexpected } = toConnectError(new TypeError("secret detail: row 42 of table users"));
    expect([error.code, error.rawMessage, unexpected]).toEqual([Code.Internal, "internal error", true]);
    expect(toConnectError("a string").error.rawMessage).toBe("internal error");
  });

  test("a ConnectError passes through; an Internal one still counts as unexpected", () => {
    const given = new ConnectError("bad", Code.InvalidArgument);
    expect(toConnectError(given)).toEqual({ error: given, unexpected: false });
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
