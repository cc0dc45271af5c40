// Every error carries its reason (google.rpc.ErrorInfo) and, for a field
// breaking a rule, the field (ErrorInfo metadata and google.rpc.BadRequest),
// read by real clients on the real port: the generated Connect client
// (ConnectError.findDetails) over Connect and gRPC-Web (connect-node and
// connect-web on fetch), @grpc/grpc-js (grpc-status-details-bin decoded with
// the generated google.rpc.Status), buf curl (the real binary) and plain HTTP.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { type Client, Code, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  createConnectTransport as createWebConnectTransport,
  createGrpcWebTransport as createWebGrpcWebTransport,
} from "@connectrpc/connect-web";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import {
  BadRequestSchema,
  type ErrorInfo,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { failure } from "../support/errors.js";
import { type GrpcUsersClient, grpcUsersClient } from "../support/grpc-js.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/server.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BAD_EMAIL = { username: "fine", email: "not-an-email", password: "password1" };
const EMAIL_RULE = 'must be an email address: one "@", no whitespace, and a dotted domain (name@example.com)';
const EXPECTED_INFO = {
  reason: "FIELD_MALFORMED",
  domain: "users.v1",
  metadata: { field: "email", rule: EMAIL_RULE },
};
const EXPECTED_VIOLATION = { field: "email", description: EMAIL_RULE, reason: "FIELD_MALFORMED" };

/** ErrorInfo and BadRequest of a google.rpc.Status, decoded with the generated schemas. */
function decodeStatus(bytes: Uint8Array) {
  const status = fromBinary(StatusSchema, bytes);
  const of = (name: string) =>
    status.details.filter((any) => any.typeUrl === `type.googleapis.com/google.rpc.${name}`).map((any) => any.value);
  return {
    status,
    infos: of("ErrorInfo").map((v) => fromBinary(ErrorInfoSchema, v)),
    badRequests: of("BadRequest").map((v) => fromBinary(BadRequestSchema, v)),
  };
}

const plainInfo = (info: ErrorInfo) => ({ reason: info.reason, domain: info.domain, metadata: { ...info.metadata } });

describe.each(ENGINES)("error details (%s)", (engine) => {
  let t: TestServer;
  let grpcJs: GrpcUsersClient;
  let sessions: Http2SessionManager;
  const headers = () => ({ authorization: `Bearer ${t.adminKey}` });

  beforeAll(async () => {
    t = await startTestServer({ engine });
    grpcJs = grpcUsersClient(`127.0.0.1:${t.port}`);
    sessions = new Http2SessionManager(t.url);
  });
  afterAll(async () => {
    grpcJs.close();
    sessions.abort();
    await t.close();
  });

  const transports: Array<[string, () => Transport]> = [
    ["Connect JSON (connect-node)", () => createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" })],
    [
      "Connect binary over HTTP/2 (connect-node)",
      () =>
        createConnectTransport({ baseUrl: t.url, httpVersion: "2", useBinaryFormat: true, sessionManager: sessions }),
    ],
    ["Connect (connect-web on fetch)", () => createWebConnectTransport({ baseUrl: t.url })],
    ["gRPC-Web (connect-node)", () => createGrpcWebTransport({ baseUrl: t.url, httpVersion: "1.1" })],
    ["gRPC-Web (connect-web on fetch)", () => createWebGrpcWebTransport({ baseUrl: t.url })],
  ];

  test.each(transports)("%s: ConnectError.findDetails gives reason, field and rule", async (_name, transport) => {
    const client: Client<typeof Users> = createClient(Users, transport());
    const err = await failure(client.create(BAD_EMAIL, { headers: headers() }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ErrorInfoSchema).map(plainInfo)).toEqual([EXPECTED_INFO]);
    const [badRequest] = err.findDetails(BadRequestSchema);
    expect(badRequest?.fieldViolations.map((v) => ({ ...v, $typeName: undefined }))).toEqual([
      { ...EXPECTED_VIOLATION, $typeName: undefined },
    ]);
  });

  test("@grpc/grpc-js: grpc-status-details-bin decodes to google.rpc.Status with the details", async () => {
    const failed = await grpcJs.fail("Create", BAD_EMAIL, headers());
    expect(failed.code).toBe(Code.InvalidArgument);
    const [bin] = failed.metadata.get("grpc-status-details-bin") as Buffer[];
    expect(bin).toBeInstanceOf(Buffer);
    const { status, infos, badRequests } = decodeStatus(bin!);
    expect([status.code, status.message]).toEqual([Code.InvalidArgument, `email: ${EMAIL_RULE}`]);
    expect(infos.map(plainInfo)).toEqual([EXPECTED_INFO]);
    expect(badRequests[0]?.fieldViolations[0]).toMatchObject(EXPECTED_VIOLATION);
  });

  test("@grpc/grpc-js: errors beyond validation carry their reason", async () => {
    const reasonOf = async (failed: Promise<{ metadata: grpc.Metadata }>) => {
      const [bin] = (await failed).metadata.get("grpc-status-details-bin") as Buffer[];
      return decodeStatus(bin!).infos[0]?.reason;
    };
    expect(await reasonOf(grpcJs.fail("Read", { id: "nobody" }, headers()))).toBe("USER_NOT_FOUND");
    expect(await reasonOf(grpcJs.fail("Read", { id: "nobody" }, { authorization: "Bearer wrong" }))).toBe(
      "API_KEY_INVALID",
    );
    expect(await reasonOf(grpcJs.fail("Login", { username: "nobody", password: "password1" }, headers()))).toBe(
      "INVALID_CREDENTIALS",
    );
  });

  test("buf curl --protocol grpc prints the details; their values decode to reason and field", async () => {
    const run = promisify(execFile);
    const result = await run(
      `${ROOT}/node_modules/.bin/buf`,
      [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--schema",
        `${ROOT}/proto`,
        "-H",
        `authorization: Bearer ${t.adminKey}`,
        "-d",
        JSON.stringify(BAD_EMAIL),
        `${t.url}/users.v1.Users/Create`,
      ],
      { cwd: ROOT },
    ).then(
      () => undefined,
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(result).toBeDefined();
    const printed = JSON.parse(result!.stderr || result!.stdout) as {
      code: string;
      message: string;
      details: Array<{ type: string; value: string }>;
    };
    expect(printed.code).toBe("invalid_argument");
    const detail = (type: string) => Buffer.from(printed.details.find((d) => d.type === type)!.value, "base64");
    expect(plainInfo(fromBinary(ErrorInfoSchema, detail("google.rpc.ErrorInfo")))).toEqual(EXPECTED_INFO);
    expect(fromBinary(BadRequestSchema, detail("google.rpc.BadRequest")).fieldViolations[0]).toMatchObject(
      EXPECTED_VIOLATION,
    );
  });

  test("plain HTTP on Connect JSON: the error body's details name the type, with the value in base64", async () => {
    const res = await httpRequest(`${t.url}/users.v1.Users/Search`, {
      headers: { ...headers(), "content-type": "application/json" },
      body: JSON.stringify({ limit: 5000 }),
    });
    expect(res.status).toBe(400);
    const body = res.json as { code: string; details: Array<{ type: string; value: string }> };
    expect(body.code).toBe("invalid_argument");
    const info = body.details.find((d) => d.type === "google.rpc.ErrorInfo")!;
    expect(plainInfo(fromBinary(ErrorInfoSchema, Buffer.from(info.value, "base64")))).toMatchObject({
      reason: "FIELD_OUT_OF_RANGE",
      metadata: { field: "limit" },
    });
  });

  test("a throttled login carries LOGIN_THROTTLED and a RetryInfo delay equal to retry-after", async () => {
    const client = createClient(Users, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    await client.create(
      { username: "locked", email: "locked@example.com", password: "password1" },
      { headers: headers() },
    );
    let last = await failure(client.login({ username: "locked", password: "wrong-pass" }, { headers: headers() }));
    for (let i = 0; i < 20 && last.code !== Code.ResourceExhausted; i++) {
      last = await failure(client.login({ username: "locked", password: "wrong-pass" }, { headers: headers() }));
    }
    expect(last.code).toBe(Code.ResourceExhausted);
    expect(last.findDetails(ErrorInfoSchema)[0]?.reason).toBe("LOGIN_THROTTLED");
    const [retry] = last.findDetails(RetryInfoSchema);
    expect(String(retry?.retryDelay?.seconds)).toBe(last.metadata.get("retry-after"));
  });

  test("the M3O error shape is unchanged: exactly id, code, detail and status", async () => {
    const res = await httpRequest(`${t.url}/users/Users/Create`, {
      headers: headers(),
      body: JSON.stringify(BAD_EMAIL),
    });
    expect(res.json).toEqual({ id: "users.Create", code: 400, detail: `email: ${EMAIL_RULE}`, status: "Bad Request" });
  });
});
