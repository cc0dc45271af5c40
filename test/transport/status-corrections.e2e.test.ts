// Requests the server cannot decode are the caller's mistake: InvalidArgument
// on every protocol, never Internal or a 5xx, and never quoting what was sent;
// every answer says Cache-Control: no-store (src/transport/status-corrections.ts).
import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { NO_ACTOR } from "../../src/service/events.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** Bytes protobuf-es refuses: field 1, wire type 2, a length far past the end. */
const BROKEN_PROTOBUF = Buffer.from([0x0a, 0xff, 0x01, 0x41]);

function envelope(payload: Buffer, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

describe.each(ENGINES)("undecodable requests (%s)", (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine });
  });
  afterAll(() => t.close());

  test("Connect binary: 400 invalid_argument naming the problem", async () => {
    const res = await fetch(`${t.url}/users.v1.Users/Read`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/proto" },
      body: BROKEN_PROTOBUF,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toMatch(/^request message: not valid protobuf \(/);
  });

  test("gRPC-Web: grpc-status 3 in the trailer frame", async () => {
    const res = await fetch(`${t.url}/users.v1.Users/Read`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/grpc-web+proto" },
      body: envelope(BROKEN_PROTOBUF),
    });
    expect(res.status).toBe(200);
    const text = Buffer.from(await res.arrayBuffer()).toString("latin1");
    expect(text).toMatch(/grpc-status: 3\r\n/);
    expect(decodeURIComponent(/grpc-message: (.*)\r\n/.exec(text)![1]!)).toMatch(
      /^request message: not valid protobuf/,
    );
  });

  async function grpcCall(body: Buffer): Promise<http2.IncomingHttpHeaders> {
    const session = http2.connect(t.url);
    session.on("error", () => undefined);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/users.v1.Users/Read",
        "content-type": "application/grpc",
        te: "trailers",
        authorization: `Bearer ${t.adminKey}`,
      });
      stream.on("error", () => undefined);
      stream.resume();
      const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
        stream.once("trailers", resolve);
        // A trailers-only answer carries the status in its headers.
        stream.once("end", () => headers.then(resolve));
      });
      stream.end(body);
      return await trailers;
    } finally {
      session.close();
    }
  }

  test("gRPC: grpc-status 3 for bytes protobuf cannot decode", async () => {
    const trailers = await grpcCall(envelope(BROKEN_PROTOBUF));
    expect(trailers["grpc-status"]).toBe("3");
    expect(trailers["grpc-message"]).toMatch(/^request message: not valid protobuf/);
  });

  test("gRPC: grpc-status 3 for a frame flagged compressed without grpc-encoding", async () => {
    const trailers = await grpcCall(envelope(Buffer.from([0x0a, 0x01, 0x78]), 1));
    expect(trailers["grpc-status"]).toBe("3");
    expect(trailers["grpc-message"]).toBe("request message: flagged compressed, but no grpc-encoding was given");
  });

  test("a well-formed gRPC call still answers normally", async () => {
    const trailers = await grpcCall(envelope(Buffer.from([0x0a, 0x03, 0x78, 0x79, 0x7a]))); // id "xyz"
    expect(trailers["grpc-status"]).toBe("5");
    expect(trailers["grpc-message"]).toBe("user not found");
  });
});

// A password sent where the JSON breaks, or as a value of the wrong type.
const SECRET = "hunter2-secret";
const JSON_BODIES: Array<[string, string, string, string | undefined]> = [
  ["Login", `{"username": "asim", "password": ${SECRET}}`, "request body: not valid JSON", undefined],
  ["Login", `{"username": "asim", "password": "${SECRET}"`, "request body: not valid JSON", undefined],
  ["Login", '{"username": "asim", "password": 86753091234}', "password: must be a string", "password"],
  ["Search", `{"limit": "${SECRET}"}`, "limit: must be a whole number (or a string of one)", "limit"],
  ["Login", `["${SECRET}"]`, "request body: must be a JSON object", undefined],
];

describe.each(ENGINES)("JSON the codecs cannot decode is never quoted back (%s)", (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine });
  });
  afterAll(() => t.close());

  const reasonOf = (details: Array<{ type: string; value: string }> | undefined) => {
    const info = details?.find((d) => d.type === "google.rpc.ErrorInfo");
    return info && fromBinary(ErrorInfoSchema, Buffer.from(info.value, "base64"));
  };

  test.each(JSON_BODIES)("Connect JSON %s %s → 400 %j", async (method, body, message, field) => {
    const res = await fetch(`${t.url}/users.v1.Users/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/json" },
      body,
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("86753091234");
    const error = JSON.parse(text) as {
      code: string;
      message: string;
      details: Array<{ type: string; value: string }>;
    };
    expect(error.code).toBe("invalid_argument");
    expect(error.message.replace(/ \(at character \d+\)$/, "")).toBe(message);
    const info = reasonOf(error.details);
    expect([info?.reason, info?.metadata.field]).toEqual(["REQUEST_MALFORMED", field]);
  });

  test.each(JSON_BODIES)("gRPC-Web JSON %s %s → grpc-status 3 %j", async (method, body, message) => {
    const res = await fetch(`${t.url}/users.v1.Users/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/grpc-web+json" },
      body: envelope(Buffer.from(body)),
    });
    const text = Buffer.from(await res.arrayBuffer()).toString("latin1");
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("86753091234");
    expect(text).toMatch(/grpc-status: 3\r\n/);
    const said = decodeURIComponent(/grpc-message: (.*)\r\n/.exec(text)![1]!);
    expect(said.replace(/ \(at character \d+\)$/, "")).toBe(message);
  });

  test.each(JSON_BODIES)("gRPC JSON %s %s → grpc-status 3 %j", async (method, body, message) => {
    const session = http2.connect(t.url);
    session.on("error", () => undefined);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": `/users.v1.Users/${method}`,
        "content-type": "application/grpc+json",
        te: "trailers",
        authorization: `Bearer ${t.adminKey}`,
      });
      stream.on("error", () => undefined);
      stream.resume();
      const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
      const ended = new Promise<http2.IncomingHttpHeaders>((resolve) => {
        stream.once("trailers", resolve);
        stream.once("end", () => headers.then(resolve));
      });
      stream.end(envelope(Buffer.from(body)));
      const trailers = await ended;
      expect(JSON.stringify(trailers)).not.toContain(SECRET);
      expect(trailers["grpc-status"]).toBe("3");
      expect(String(trailers["grpc-message"]).replace(/ \(at character \d+\)$/, "")).toBe(message);
    } finally {
      session.close();
    }
  });
});

describe.each(ENGINES)("Cache-Control: no-store on every answer (%s)", (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine });
    await t.server.users.create(
      "default",
      {
        id: "",
        username: "cached",
        email: "cached@example.com",
        password: "password1",
      },
      NO_ACTOR,
    );
  });
  afterAll(() => t.close());

  const login = JSON.stringify({ username: "cached", password: "password1" });

  test.each([
    ["Connect JSON Login", "/users.v1.Users/Login", "application/json", login],
    ["Connect JSON error", "/users.v1.Users/Read", "application/json", '{"id": "nobody"}'],
    ["Connect undecodable", "/users.v1.Users/Read", "application/proto", BROKEN_PROTOBUF],
    ["gRPC-Web Login", "/users.v1.Users/Login", "application/grpc-web+json", envelope(Buffer.from(login))],
    ["M3O Login", "/users/Users/Login", "application/json", login],
    ["M3O /v1 Login", "/v1/users/Login", "application/json", login],
    ["M3O error", "/users/Users/Read", "application/json", '{"id": "nobody"}'],
  ])("%s", async (_name, path, contentType, body) => {
    const res = await fetch(`${t.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminKey}`, "content-type": contentType },
      body,
    });
    await res.arrayBuffer();
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("gRPC Login over HTTP/2", async () => {
    const session = http2.connect(t.url);
    session.on("error", () => undefined);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/users.v1.Users/Login",
        "content-type": "application/grpc+json",
        te: "trailers",
        authorization: `Bearer ${t.adminKey}`,
      });
      stream.resume();
      const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
      stream.end(envelope(Buffer.from(login)));
      expect((await headers)["cache-control"]).toBe("no-store");
      await new Promise((resolve) => stream.once("close", resolve));
    } finally {
      session.close();
    }
  });
});
