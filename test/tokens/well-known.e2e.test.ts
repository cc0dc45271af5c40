// /.well-known/jwks.json and /.well-known/openid-configuration on a real
// port, over HTTP/1.1 and cleartext HTTP/2: no API key, public halves only,
// cache headers shorter than a rotation's publish delay, an ETag that
// revalidates, readable by any origin, HEAD like GET without a body, and 405
// for other methods.
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { publishDelayMs } from "../../src/service/signing-keys.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { storedKeys } from "./support/stored-keys.js";

const ISSUER = "https://users.example.test/auth";

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request over HTTP/2 with prior knowledge (h2c). */
function h2(url: string, path: string, method = "GET", headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request({ ":method": method, ":path": path, ...headers });
    let body = "";
    let answerHeaders: Record<string, string> = {};
    req.on("response", (h) => {
      answerHeaders = Object.fromEntries(
        Object.entries(h)
          .filter(([k]) => !k.startsWith(":"))
          .map(([k, v]) => [k, String(v)]),
      );
      answerHeaders[":status"] = String(h[":status"]);
    });
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      session.close();
      resolve({ status: Number(answerHeaders[":status"]), headers: answerHeaders, body });
    });
    req.on("error", reject);
    req.end();
  });
}

/** One request over HTTP/1.1 (fetch). */
async function h1(url: string, path: string, method = "GET", headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${url}${path}`, { method, headers });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

describe.each(ENGINES)("discovery endpoints (%s)", (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine, env: { PUBLIC_URL: ISSUER, JWKS_MAX_AGE_SECONDS: "120" } });
  });
  afterAll(() => t.close());

  test.each([
    ["HTTP/1.1", h1],
    ["HTTP/2", h2],
  ] as const)("%s: the key set holds exactly the public halves, with cache headers and CORS", async (_, send) => {
    const [key] = await storedKeys(t.config.databaseUrl);
    const answer = await send(t.url, "/.well-known/jwks.json", "GET", { origin: "https://anywhere.example" });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ keys: [JSON.parse(key!.public_jwk)] });
    expect(answer.body).not.toMatch(/"d"/);
    expect(answer.headers["content-type"]).toBe("application/json");
    expect(answer.headers["cache-control"]).toBe("public, max-age=120");
    expect(answer.headers["access-control-allow-origin"]).toBe("*");
    expect(answer.headers["access-control-allow-credentials"]).toBeUndefined();
    // Verifiers may cache the set for less time than a new key is published before it signs.
    expect(120 * 1000).toBeLessThan(
      publishDelayMs({ jwksMaxAgeSeconds: 120, signingKeyReloadSeconds: 30, accessTokenTtlSeconds: 300 }),
    );
    const etag = answer.headers.etag!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    // Revalidation with the ETag: 304, no body.
    const again = await send(t.url, "/.well-known/jwks.json", "GET", { "if-none-match": etag });
    expect([again.status, again.body]).toEqual([304, ""]);
    expect((await send(t.url, "/.well-known/jwks.json", "GET", { "if-none-match": '"other"' })).status).toBe(200);
    // HEAD: the same headers, no body.
    const head = await send(t.url, "/.well-known/jwks.json", "HEAD");
    expect([head.status, head.body, head.headers.etag]).toEqual([200, "", etag]);
    expect(head.headers["content-length"]).toBe(String(Buffer.byteLength(answer.body)));
  });

  test.each([
    ["HTTP/1.1", h1],
    ["HTTP/2", h2],
  ] as const)("%s: the discovery document names the issuer and the key set", async (_, send) => {
    const answer = await send(t.url, "/.well-known/openid-configuration");
    expect(answer.status).toBe(200);
    expect(answer.headers["access-control-allow-origin"]).toBe("*");
    expect(JSON.parse(answer.body)).toEqual({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      response_types_supported: ["none"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["EdDSA"],
      claims_supported: ["iss", "sub", "ns", "sid", "username", "email", "email_verified", "iat", "exp"],
    });
  });

  test.each([
    ["HTTP/1.1", h1],
    ["HTTP/2", h2],
  ] as const)("%s: other methods are 405; OPTIONS answers a preflight", async (_, send) => {
    for (const path of ["/.well-known/jwks.json", "/.well-known/openid-configuration"]) {
      for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
        const answer = await send(t.url, path, method);
        expect({ path, method, status: answer.status, allow: answer.headers.allow }).toEqual({
          path,
          method,
          status: 405,
          allow: "GET, HEAD, OPTIONS",
        });
      }
      const preflight = await send(t.url, path, "OPTIONS", {
        origin: "https://anywhere.example",
        "access-control-request-method": "GET",
        "access-control-request-headers": "if-none-match",
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers["access-control-allow-origin"]).toBe("*");
      expect(preflight.headers["access-control-allow-methods"]).toBe("GET, HEAD");
    }
  });

  test("a browser page on another origin reads the key set (CORS), without an API key", async () => {
    const res = await fetch(`${t.url}/.well-known/jwks.json`, { headers: { origin: "https://app.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-expose-headers")).toBe("etag");
  });
});
