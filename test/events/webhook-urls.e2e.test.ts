// Where webhooks may go: http(s) only, no credentials, no private, loopback
// or link-local address, checked when an endpoint is added (over the RPC and
// the CLI) and again at every delivery against the address the host resolves
// to then, so an endpoint whose host later points inside (DNS rebinding) gets
// nothing. The connection never follows a redirect.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { loadSecretBox } from "../../src/files/encryption-key-file.js";
import { NO_ACTOR } from "../../src/service/events.js";
import { webhookSecretContext } from "../../src/service/webhooks.js";
import { isPrivateAddress } from "../../src/webhooks/url-guard.js";
import { runCli } from "../support/cli.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { Receiver, until, webhooksRpc } from "./receiver.js";

describe.each(ENGINES)("webhook URLs (%s)", (engine) => {
  let t: TestServer;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    t = await startTestServer({
      engine,
      env: { WEBHOOK_RETRY_BASE_MS: "40" },
    });
  });
  afterAll(async () => {
    await t.close();
    for (const r of receivers) await r.stop();
  });

  test.each(
    [
      ["ftp://203.0.113.5/hooks", "http or https"],
      ["not a url", "absolute http or https URL"],
      ["https://user:secret@203.0.113.5/hooks", "credentials"],
      ["http://127.0.0.1:8080/hooks", "private, loopback or link-local"],
      ["http://localhost/hooks", "private, loopback or link-local"],
      ["http://10.1.2.3/hooks", "private"],
      ["http://192.168.0.10/hooks", "private"],
      ["http://169.254.169.254/latest/meta-data", "link-local"],
      ["http://[::1]/hooks", "private"],
      ["http://[fd00::1]/hooks", "private"],
      ["http://[::ffff:127.0.0.1]/hooks", "private"],
      ["http://0.0.0.0/hooks", "private"],
      [`https://203.0.113.5/${"a".repeat(2100)}`, "at most 2048"],
    ].map(([url, rule]) => [
      url!.length > 100 ? `${url!.slice(0, 40)}… (${url!.length} characters)` : url!,
      url!,
      rule!,
    ]),
  )("CreateWebhook refuses %s", async (_label, url, rule) => {
    const answer = await webhooksRpc(t.url, "CreateWebhook", { namespace: "n1", url }, t.adminKey);
    expect(answer.status).toBe(400);
    expect(String(answer.json.message)).toContain("url");
    expect(String(answer.json.message)).toContain(rule);
  });

  test("unknown event types and bad namespaces are refused, naming the field", async () => {
    const types = await webhooksRpc(
      t.url,
      "CreateWebhook",
      { namespace: "n1", url: "https://203.0.113.5/h", events: ["user.exploded"] },
      t.adminKey,
    );
    expect(types.status).toBe(400);
    expect(String(types.json.message)).toContain("events");
    const ns = await webhooksRpc(
      t.url,
      "CreateWebhook",
      { namespace: "Not OK", url: "https://203.0.113.5/h" },
      t.adminKey,
    );
    expect(ns.status).toBe(400);
    expect(String(ns.json.message)).toContain("namespace");
  });

  test("the CLI applies the same checks, and prints a new endpoint's secret once", async () => {
    const env = { DATABASE_URL: t.config.databaseUrl, ENCRYPTION_KEY_FILE: t.config.encryptionKeyFile };
    const refused = await runCli(["webhooks", "add", "--namespace", "n1", "--url", "http://127.0.0.1/x"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("private, loopback or link-local");
    const added = await runCli(
      [
        "webhooks",
        "add",
        "--namespace",
        "n1",
        "--url",
        "https://203.0.113.7/h",
        "--events",
        "user.created,user.deleted",
      ],
      env,
    );
    expect(added.code).toBe(0);
    const secret = /whsec_[A-Za-z0-9+/=]+/.exec(added.stdout)![0];
    const listed = await runCli(["webhooks", "list"], env);
    expect(listed.stdout).toContain("https://203.0.113.7/h");
    expect(listed.stdout).toContain("user.created,user.deleted");
    expect(listed.stdout).not.toContain(secret);
    const id = /wh_[0-9a-f]{16}/.exec(added.stdout)![0];
    expect((await runCli(["webhooks", "remove", id], env)).code).toBe(0);
    expect((await runCli(["webhooks", "remove", id], env)).stderr).toContain("not found");
  });

  test("at delivery, a host that now resolves inside is refused: the receiver gets nothing", async () => {
    // An endpoint whose address was public when added but is loopback now
    // (what DNS rebinding does), written as the store would hold it.
    const receiver = new Receiver();
    receivers.push(receiver);
    const url = await receiver.start();
    await t.server.repo.insertWebhook({
      id: "wh_00000000000000aa",
      namespace: "rebind",
      url,
      eventTypes: [],
      sealedSecret: loadSecretBox(t.config).box.seal(
        `whsec_${randomBytes(32).toString("base64")}`,
        webhookSecretContext("wh_00000000000000aa"),
      ),
      createdMs: Date.now(),
    });
    await t.server.users.create(
      "rebind",
      { id: "", username: "rb", email: "rb@example.com", password: "password-1" },
      NO_ACTOR,
    );
    await until("a refused attempt", async () => {
      const rows = await rawQuery(
        t.config.databaseUrl,
        "SELECT reason FROM webhook_deliveries WHERE endpoint_id = 'wh_00000000000000aa'",
      );
      return rows.some((r) => String(r.reason).startsWith("refused:"));
    });
    expect(receiver.requests).toBe(0);
  });

  test("a redirect is not followed: it is a failed attempt", async () => {
    const target = new Receiver();
    receivers.push(target);
    const targetUrl = await target.start();
    const { default: http } = await import("node:http");
    const redirector = http.createServer((_req, res) => res.writeHead(307, { location: targetUrl }).end());
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    const port = (redirector.address() as { port: number }).port;
    try {
      const allowed = await startTestServer({
        engine,
        env: { WEBHOOK_ALLOW_PRIVATE: "true" },
      });
      try {
        const created = await webhooksRpc(
          allowed.url,
          "CreateWebhook",
          { namespace: "r", url: `http://127.0.0.1:${port}/` },
          allowed.adminKey,
        );
        expect(created.status).toBe(200);
        await allowed.server.users.create(
          "r",
          {
            id: "",
            username: "rr",
            email: "rr@example.com",
            password: "password-1",
          },
          NO_ACTOR,
        );
        await until("a failed attempt", async () => {
          const rows = await rawQuery(allowed.config.databaseUrl, "SELECT reason FROM webhook_deliveries");
          return rows.some((r) => String(r.reason) === "HTTP 307");
        });
        expect(target.requests).toBe(0);
      } finally {
        await allowed.close();
      }
    } finally {
      redirector.close();
    }
  });
});

test("the address rules", () => {
  for (const inside of [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "fe80::1",
    "fc00::2",
    "::ffff:10.0.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "::",
  ]) {
    expect({ inside, private: isPrivateAddress(inside) }).toEqual({ inside, private: true });
  }
  for (const outside of ["203.0.113.5", "8.8.8.8", "2606:4700::1111", "172.32.0.1", "11.0.0.1"]) {
    expect({ outside, private: isPrivateAddress(outside) }).toEqual({ outside, private: false });
  }
});
