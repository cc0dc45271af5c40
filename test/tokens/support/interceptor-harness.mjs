// "Another service": a Connect service (grpc.health.v1.Health, as generated
// in dist/) behind the README's interceptor, compiled from the README block
// to interceptor.mjs beside this file's copy. Reads { "tokens": [...] } (a
// token, or null for no authorization header) on stdin; for each, calls
// Check over a real socket and writes { ok, user } or { code }.
import http from "node:http";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";

const [interceptorFile, healthPb] = process.argv.slice(2);
const { requireUser, userKey } = await import(interceptorFile);
const { Health } = await import(healthPb);

const server = http.createServer(
  connectNodeAdapter({
    interceptors: [requireUser],
    routes: (router) =>
      router.service(Health, {
        check(_req, ctx) {
          ctx.responseHeader.set("x-user", JSON.stringify(ctx.values.get(userKey)));
          return { status: 1 };
        },
      }),
  }),
);
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const client = createClient(
  Health,
  createConnectTransport({ baseUrl: `http://127.0.0.1:${server.address().port}`, httpVersion: "1.1" }),
);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const token of JSON.parse(input).tokens) {
  let user;
  try {
    await client.check(
      {},
      {
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
        onHeader: (h) => (user = JSON.parse(h.get("x-user"))),
      },
    );
    results.push({ ok: true, user });
  } catch (err) {
    results.push({ ok: false, code: Code[ConnectError.from(err).code] });
  }
}
server.close();
process.stdout.write(JSON.stringify(results));
