// CORS on the wire: which origins get which headers, on the RPC paths
// (Connect, gRPC-Web) and the M3O paths, and that nothing else is touched.

import { cors } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startTestServer, type TestServer } from "../support/server.js";
import { rawRequest } from "./support/raw-http.js";

const APP = "https://app.example.com";
const OTHER = "https://evil.example.com";
const RPC = "/users.v1.Users/Login";
const M3O_PATHS = ["/users/Users/Login", "/v1/users/Login"];

const preflight = (origin: string, requestHeaders = "authorization, content-type, micro-namespace") => ({
  origin,
  "access-control-request-method": "POST",
  "access-control-request-headers": requestHeaders,
});

const corsHeaders = (headers: Record<string, unknown>) =>
  Object.keys(headers).filter((name) => name.startsWith("access-control-"));
const list = (value: unknown) =>
  String(value ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

describe("CORS with CORS_ORIGINS set", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { CORS_ORIGINS: `${APP},http://localhost:3000` } });
  });
  afterAll(() => t.close());

  test.each([RPC, ...M3O_PATHS])(
    "a preflight from a listed origin to %s is allowed with Connect's and the API's headers",
    async (path) => {
      const res = await rawRequest(t.url, "OPTIONS", path, preflight(APP));
      expect(res.status).toBe(204);
      expect(res.headers["access-control-allow-origin"]).toBe(APP);
      expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
      expect(list(res.headers["access-control-allow-methods"])).toEqual(
        cors.allowedMethods.map((m) => m.toLowerCase()),
      );
      const allowed = list(res.headers["access-control-allow-headers"]);
      // x-session-id: a public key's proof of the user (README, Tenancy and API keys).
      for (const name of [...cors.allowedHeaders, "authorization", "micro-namespace", "x-session-id"])
        expect(allowed).toContain(name.toLowerCase());
      expect(Number(res.headers["access-control-max-age"])).toBeGreaterThan(0);
      expect(list(res.headers.vary)).toContain("origin");
    },
  );

  test.each([OTHER, "null", `${APP}:8443`, "http://app.example.com"])(
    "a preflight from %s (not listed) gets no CORS headers",
    async (origin) => {
      const res = await rawRequest(t.url, "OPTIONS", RPC, preflight(origin));
      expect(res.status).toBe(204);
      expect(corsHeaders(res.headers)).toEqual([]);
      expect(list(res.headers.vary)).toContain("origin");
    },
  );

  test("a Connect call from a listed origin exposes gRPC-Web's and the API's response headers", async () => {
    const res = await rawRequest(
      t.url,
      "POST",
      RPC,
      { origin: APP, "content-type": "application/json", authorization: `Bearer ${t.adminKey}` },
      '{"username":"nobody","password":"whatever1"}',
    );
    expect(res.status).toBe(401);
    expect(res.headers["access-control-allow-origin"]).toBe(APP);
    const exposed = list(res.headers["access-control-expose-headers"]);
    for (const name of [...cors.exposedHeaders, "x-request-id", "retry-after"])
      expect(exposed).toContain(name.toLowerCase());
    expect(list(res.headers.vary)).toContain("origin");
  });

  test("a gRPC-Web call from a listed origin gets CORS headers too", async () => {
    const res = await rawRequest(
      t.url,
      "POST",
      "/users.v1.Users/Read",
      { origin: APP, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      "",
    );
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe(APP);
    expect(list(res.headers["access-control-expose-headers"])).toContain("grpc-status");
  });

  test.each(M3O_PATHS)(
    "an M3O call to %s from a listed origin gets CORS headers; from another origin none",
    async (path) => {
      const body = '{"username":"nobody","password":"whatever1"}';
      const allowed = await rawRequest(
        t.url,
        "POST",
        path,
        { origin: APP, authorization: `Bearer ${t.adminKey}` },
        body,
      );
      expect(allowed.status).toBe(401);
      expect(allowed.headers["access-control-allow-origin"]).toBe(APP);
      const other = await rawRequest(
        t.url,
        "POST",
        path,
        { origin: OTHER, authorization: `Bearer ${t.adminKey}` },
        body,
      );
      expect(corsHeaders(other.headers)).toEqual([]);
    },
  );

  test("Vary: Origin is sent even without an Origin header", async () => {
    const res = await rawRequest(t.url, "POST", RPC, { "content-type": "application/json" }, "{}");
    expect(list(res.headers.vary)).toContain("origin");
    expect(corsHeaders(res.headers)).toEqual([]);
  });

  test("the console's files are same-origin only: no CORS headers there", async () => {
    const res = await rawRequest(t.url, "GET", "/console/", { origin: APP });
    expect(corsHeaders(res.headers)).toEqual([]);
    const preflightRes = await rawRequest(t.url, "OPTIONS", "/console/", preflight(APP));
    expect(corsHeaders(preflightRes.headers)).toEqual([]);
  });
});

describe("CORS by default (CORS_ORIGINS empty)", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  test.each([RPC, ...M3O_PATHS])("no origin is allowed to call %s", async (path) => {
    const pre = await rawRequest(t.url, "OPTIONS", path, preflight(APP));
    expect(corsHeaders(pre.headers)).toEqual([]);
    const call = await rawRequest(t.url, "POST", path, { origin: APP, "content-type": "application/json" }, "{}");
    expect(corsHeaders(call.headers)).toEqual([]);
    expect(list(call.headers.vary)).toContain("origin");
  });
});
