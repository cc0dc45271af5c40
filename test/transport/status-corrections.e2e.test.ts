// Requests the server cannot decode are the caller's mistake: InvalidArgument
// on every protocol, never Internal or a 5xx (src/transport/status-corrections.ts).
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
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
