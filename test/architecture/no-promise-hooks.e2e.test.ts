// Nothing in the service turns on V8's promise hooks. On Node 20 the first
// AsyncLocalStorage.run (or an async_hooks.createHook) turns them on for the
// whole process, for good: from then on every promise of every call pays for
// them (their init and before/after hooks, and the garbage they make), even a
// ReadSession that writes nothing. That is why the event actor is a value
// the transport passes to the services (src/service/events.ts) rather than an
// AsyncLocalStorage. Two checks: no file under src/ imports node:async_hooks,
// and a served process that has answered event-writing calls of each kind
// (an admin's, a public key's with its session proof, failures included) on
// each engine still has the hooks off (test/architecture/promise-hook-probe.mjs).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type ServerProcess, startServerProcess } from "../reliability/support/server-process.js";
import { runCli } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";

const SRC = path.resolve(process.cwd(), "src");
const PROBE = path.resolve(process.cwd(), "test/architecture/promise-hook-probe.mjs");
const ADMIN_KEY = "promise-hooks-admin-key-0123456789abcdef";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.[cm]?[jt]s$/.test(entry.name) ? [full] : [];
  });
}

test("no file under src/ imports node:async_hooks", () => {
  const files = sourceFiles(SRC);
  expect(files.length).toBeGreaterThan(50);
  // import ... from "node:async_hooks", import("async_hooks"), require("node:async_hooks")
  const importsAsyncHooks = /(?:from\s*|import\s*\(\s*|require\s*\(\s*|import\s+)["'](?:node:)?async_hooks["']/;
  const offenders = files
    .filter((f) => importsAsyncHooks.test(readFileSync(f, "utf8")))
    .map((f) => path.relative(SRC, f));
  expect(offenders).toEqual([]);
});

describe.each(ENGINES)("a served process keeps V8's promise hooks off (%s)", (engine) => {
  let server: ServerProcess;
  let publicKey: string;

  beforeAll(async () => {
    const env = {
      DATABASE_URL: await freshDatabaseUrl(engine),
      BCRYPT_COST: "4",
      USERS_BOOTSTRAP_KEY: ADMIN_KEY,
    };
    const created = await runCli(["keys", "create", "--namespace", "default", "--role", "public"], env);
    publicKey = /usk_[A-Za-z0-9_-]{43}/.exec(created.stdout)![0];
    server = await startServerProcess({ ...env, NODE_OPTIONS: `--import=${PROBE}` });
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** What the probe says now (it answers SIGUSR2). */
  async function promiseHooks(): Promise<string> {
    const seen = server.output().split("promise-hook-probe: ").length;
    server.child.kill("SIGUSR2");
    for (;;) {
      const answers = server.output().split("promise-hook-probe: ");
      if (answers.length > seen) return answers[answers.length - 1]!.split("\n")[0]!;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function call(method: string, body: object, headers: Record<string, string> = {}) {
    const res = await fetch(`${server.url}/users.v1.Users/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}`, ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  test("after creating, signing in, reading, updating, failing and signing out", async () => {
    expect(server.output()).toContain("promise-hook-probe: ready");
    expect(await promiseHooks()).toBe("off");
    const created = await call("Create", { username: "hooks", email: "hooks@example.com", password: "password-1" });
    expect(created.status).toBe(200);
    const id = (created.json.user as { id: string }).id;
    const login = await call("Login", { username: "hooks", password: "password-1" });
    const sessionId = (login.json.session as { id: string }).id;
    expect((await call("Login", { username: "hooks", password: "wrong-pass-1" })).status).toBe(401);
    expect((await call("ReadSession", { sessionId })).status).toBe(200);
    const asUser = { authorization: `Bearer ${publicKey}`, "x-session-id": sessionId };
    expect((await call("Update", { id, username: "hooks-2" }, asUser)).status).toBe(200);
    expect((await call("Logout", { sessionId })).status).toBe(200);
    expect(await promiseHooks()).toBe("off");
  });
});
