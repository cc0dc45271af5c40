// A separate process that verifies access tokens the way another service
// would: jose's remote key set (fetched from the service's JWKS URL) and
// jwtVerify with the issuer checked. Reads one JSON request on stdin:
//   { "jwksUrl": "...", "issuer": "...", "tokens": ["..."], "currentDate": <unix seconds, optional> }
// and writes one JSON array: { ok: true, header, payload } or { ok: false, code } per token, in order.
import { createRemoteJWKSet, jwtVerify } from "jose";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
const keys = createRemoteJWKSet(new URL(request.jwksUrl));
const options = {
  issuer: request.issuer,
  algorithms: ["EdDSA"],
  ...(request.currentDate === undefined ? {} : { currentDate: new Date(request.currentDate * 1000) }),
};
const results = [];
for (const token of request.tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys, options);
    results.push({ ok: true, header: protectedHeader, payload });
  } catch (err) {
    results.push({ ok: false, code: err.code ?? err.name, message: err.message });
  }
}
process.stdout.write(JSON.stringify(results));
