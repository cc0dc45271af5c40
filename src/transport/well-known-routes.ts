// Discovery of the access-token keys, for any JWT library; no API key needed:
//   GET /.well-known/jwks.json              the public halves of the signing keys
//   GET /.well-known/openid-configuration   issuer and jwks_uri (OpenID Connect Discovery)
//
// Both are public by nature, so any origin may read them (CORS `*`, never with
// credentials). The key set may be cached for JWKS_MAX_AGE_SECONDS, which a
// rotation's publish delay always exceeds (src/service/signing-keys.ts), and
// carries an ETag so a verifier revalidates cheaply (304).
import { createHash } from "node:crypto";
import { SIGNING_ALG, type SigningKeyRing } from "../service/signing-keys.js";
import type { Route } from "./http-handler.js";
import type { RequestHandler } from "./listener.js";

type Req = Parameters<RequestHandler>[0];
type Res = Parameters<RequestHandler>[1];

export const JWKS_PATH = "/.well-known/jwks.json";
export const DISCOVERY_PATH = "/.well-known/openid-configuration";

/** The claims every access token carries (docs/tokens.md). */
export const TOKEN_CLAIMS = ["iss", "sub", "ns", "sid", "username", "email", "email_verified", "iat", "exp"];

export interface WellKnownDeps {
  ring: SigningKeyRing;
  now: () => number;
  /** PUBLIC_URL: the tokens' issuer. */
  issuer: string;
  jwksMaxAgeSeconds: number;
}

export function wellKnownRoutes(deps: WellKnownDeps): Route[] {
  const discovery = JSON.stringify({
    issuer: deps.issuer,
    jwks_uri: `${deps.issuer}${JWKS_PATH}`,
    // Not an OAuth authorization server: tokens come from CreateToken, so no
    // authorization or token endpoint; these fields say what the tokens are.
    response_types_supported: ["none"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [SIGNING_ALG],
    claims_supported: TOKEN_CLAIMS,
  });
  return [
    {
      path: JWKS_PATH,
      handle: readOnly(async (req, res) => {
        await deps.ring.start();
        const body = JSON.stringify({ keys: deps.ring.published(deps.now()) });
        sendJson(req, res, body, `public, max-age=${deps.jwksMaxAgeSeconds}`);
      }),
    },
    {
      path: DISCOVERY_PATH,
      handle: readOnly((req, res) => sendJson(req, res, discovery, `public, max-age=${deps.jwksMaxAgeSeconds}`)),
    },
  ];
}

const CORS = { "access-control-allow-origin": "*", "access-control-expose-headers": "etag" };

/** GET and HEAD; OPTIONS answers a CORS preflight; every other method 405. */
function readOnly(handle: (req: Req, res: Res) => void | Promise<void>): RequestHandler {
  return (req, res) => {
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        ...CORS,
        "access-control-allow-methods": "GET, HEAD",
        "access-control-allow-headers": "if-none-match",
        "access-control-max-age": "7200",
        allow: "GET, HEAD, OPTIONS",
        "content-length": "0",
      });
      res.end();
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      const text = "use GET\n";
      res.writeHead(405, {
        ...CORS,
        allow: "GET, HEAD, OPTIONS",
        "content-type": "text/plain",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    Promise.resolve(handle(req, res)).catch(() => {
      if (res.headersSent) return;
      const text = "keys unavailable\n";
      res.writeHead(503, {
        ...CORS,
        "cache-control": "no-store",
        "content-type": "text/plain",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
    });
  };
}

function sendJson(req: Req, res: Res, body: string, cacheControl: string): void {
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  const headers = { ...CORS, "cache-control": cacheControl, etag };
  const ifNoneMatch = req.headers["if-none-match"];
  if (typeof ifNoneMatch === "string" && ifNoneMatch.split(",").some((t) => t.trim() === etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, {
    ...headers,
    "content-type": "application/json",
    "x-content-type-options": "nosniff",
    "content-length": Buffer.byteLength(body),
  });
  // HEAD: the headers (with the body's length) only.
  if (req.method === "HEAD") res.end();
  else res.end(body);
}
