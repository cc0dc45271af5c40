// The README's token-verifying interceptor, exactly as printed there: the
// block is cut out of README.md, compiled, and run in a separate process as a
// Connect service's interceptor against this service's published keys. A
// token from CreateToken gets through (with its claims), anything else is
// Unauthenticated: no token, a tampered one, one signed by another
// deployment's key, one for another issuer.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { describe, expect, test } from "@jest/globals";
import ts from "typescript";
import { rpc } from "../reliability/support/rpc.js";
import { Wire } from "../reliability/support/wire.js";
import { ENGINES, tempDir } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

const MARKER = "<!-- verify-token-interceptor:";

/** The TypeScript block that follows the marker in README.md. */
function readmeBlock(): string {
  const readme = fs.readFileSync(path.resolve("README.md"), "utf8");
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error("README.md has no verify-token-interceptor block");
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match) throw new Error("no ```ts block after the marker");
  return match[1]!;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

type Outcome = { ok: true; user: Record<string, unknown> } | { ok: false; code: string };

/** Runs the harness (another service, behind the README's interceptor) with USERS_URL set; one outcome per token. */
function callThroughInterceptor(usersUrl: string, tokens: Array<string | null>): Promise<Outcome[]> {
  const dir = tempDir("users-readme-");
  // The block's imports resolve from the project's packages, as in a real service.
  fs.symlinkSync(path.resolve("node_modules"), path.join(dir, "node_modules"));
  const compiled = ts.transpileModule(readmeBlock(), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const file = path.join(dir, "interceptor.mjs");
  fs.writeFileSync(file, compiled);
  const harness = path.resolve("test/tokens/support/interceptor-harness.mjs");
  const healthPb = path.resolve("dist/gen/grpc/health/v1/health_pb.js");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [harness, file, healthPb], {
      env: { PATH: process.env.PATH ?? "", USERS_URL: usersUrl },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as Outcome[]) : reject(new Error(err))));
    child.stdin.end(JSON.stringify({ tokens }));
  });
}

async function tokenFrom(t: TestServer, name: string): Promise<{ token: string; userId: string }> {
  const wire = new Wire(t.url);
  const headers = { authorization: `Bearer ${t.adminKey}`, "micro-namespace": "app" };
  try {
    await rpc(
      wire,
      "m3o",
      "create",
      { username: name, email: `${name}@example.com`, password: "correct horse" },
      headers,
    );
    const login = await rpc(wire, "m3o", "login", { username: name, password: "correct horse" }, headers);
    const session = login.json!.session as { id: string; userId: string };
    const answer = await rpc(wire, "m3o", "createToken", { sessionId: session.id }, headers);
    return { token: answer.json!.accessToken as string, userId: session.userId };
  } finally {
    wire.close();
  }
}

describe.each(ENGINES)("the README's interceptor, run as printed (%s)", (engine) => {
  test("lets a CreateToken token through with its claims, and nothing else", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const t = await startTestServer({ engine, env: { PORT: String(port), PUBLIC_URL: url } });
    // Another deployment at the same address (a different database, so a different key).
    const impostor = await startTestServer({ engine, env: { PUBLIC_URL: url } });
    // The right keys, another issuer.
    const elsewhere = await startTestServer({
      engine,
      databaseUrl: t.config.databaseUrl,
      env: { PUBLIC_URL: "https://other.example" },
    });
    try {
      const good = await tokenFrom(t, "reader");
      const forged = (await tokenFrom(impostor, "reader")).token;
      const otherIssuer = (await tokenFrom(elsewhere, "reader2")).token;
      const [header, payload, signature] = good.token.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
      const tampered = [
        header,
        Buffer.from(JSON.stringify({ ...claims, sub: "someone-else" })).toString("base64url"),
        signature,
      ].join(".");

      const outcomes = await callThroughInterceptor(url, [
        good.token,
        null,
        "not.a.token",
        tampered,
        forged,
        otherIssuer,
      ]);
      expect(outcomes[0]).toEqual({ ok: true, user: claims });
      expect(claims).toMatchObject({ sub: good.userId, ns: "app", username: "reader", iss: url });
      expect(outcomes.slice(1)).toEqual(Array(5).fill({ ok: false, code: "Unauthenticated" }));
    } finally {
      await Promise.all([t.close(), impostor.close(), elsewhere.close()]);
    }
  }, 60_000);
});
