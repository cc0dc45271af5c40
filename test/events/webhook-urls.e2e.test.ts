// Where webhooks may go: http(s) only, no credentials, no private, loopback,
// link-local or other special-purpose address (the IANA registries' ranges,
// and IPv6 forms carrying an IPv4 address), checked when an endpoint is added
// (over every protocol and the CLI) and again at every delivery against the
// address the host resolves to then, so an endpoint whose host later points
// inside (DNS rebinding) gets nothing. The connection never follows a redirect.
import { randomBytes } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { CreateWebhookRequestSchema } from "../../gen/users/v1/webhooks_pb.js";
import { loadSecretBox } from "../../src/files/encryption-key-file.js";
import { NO_ACTOR } from "../../src/service/events.js";
import { webhookSecretContext } from "../../src/service/webhooks.js";
import { isPrivateAddress } from "../../src/webhooks/url-guard.js";
import { errorOf } from "../accounts/support.js";
import { grpcFrame, type Protocol, Wire } from "../reliability/support/wire.js";
import { runCli } from "../support/cli.js";
import { ENGINES } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { Receiver, until, webhooksRpc } from "./receiver.js";

// A public address. The endpoints added with it never see an event (nothing
// happens in their namespace while they exist), so nothing is sent to it.
const PUBLIC = "8.8.8.8";

// Special-purpose destinations, each with the range its refusal must name.
const SPECIAL: Array<[url: string, range: string]> = [
  ["http://192.0.2.1/hooks", "192.0.2.0/24"],
  ["http://198.51.100.7/hooks", "198.51.100.0/24"],
  ["https://203.0.113.5/hooks", "203.0.113.0/24"],
  ["http://192.88.99.1/hooks", "192.88.99.0/24"],
  ["http://198.19.0.1/hooks", "198.18.0.0/15"],
  ["http://192.0.0.8/hooks", "192.0.0.0/24"],
  ["http://240.0.0.1/hooks", "240.0.0.0/4"],
  ["http://255.255.255.255/hooks", "255.255.255.255/32"],
  ["http://[::127.0.0.1]/hooks", "::/96"],
  ["http://[::8.8.8.8]/hooks", "::/96"],
  ["http://[::ffff:192.0.2.1]/hooks", "192.0.2.0/24 (IPv4-mapped)"],
  ["http://[::ffff:10.0.0.1]/hooks", "10.0.0.0/8 (IPv4-mapped)"],
  ["http://[64:ff9b::10.0.0.1]/hooks", "64:ff9b::/96"],
  ["http://[64:ff9b:1::1]/hooks", "64:ff9b:1::/48"],
  ["http://[100::1]/hooks", "100::/64"],
  ["http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hooks", "2001::/32"],
  ["http://[2001:2::1]/hooks", "2001::/23"],
  ["http://[2001:db8::1]/hooks", "2001:db8::/32"],
  ["http://[2002:a00:1::1]/hooks", "2002::/16"],
  ["http://[3fff::1]/hooks", "3fff::/20"],
  ["http://[fec0::1]/hooks", "fec0::/10"],
  ["http://[ff02::1]/hooks", "ff00::/8"],
];

/** WebhooksService/CreateWebhook over one protocol (the M3O paths serve Users only). */
function createWebhook(wire: Wire, protocol: Protocol, url: string, key: string) {
  const request = { namespace: "n1", url };
  const binary = toBinary(CreateWebhookRequestSchema, create(CreateWebhookRequestSchema, request));
  const body =
    protocol === "connect-json"
      ? Buffer.from(JSON.stringify(request))
      : protocol === "connect-binary"
        ? Buffer.from(binary)
        : grpcFrame(binary);
  return wire.send(protocol, {
    service: "users.v1.WebhooksService",
    method: "CreateWebhook",
    body,
    headers: { authorization: `Bearer ${key}` },
  });
}

describe.each(ENGINES)("webhook URLs (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    t = await startTestServer({
      engine,
      env: { WEBHOOK_RETRY_BASE_MS: "40" },
    });
    wire = new Wire(t.url);
  });
  afterAll(async () => {
    wire.close();
    await t.close();
    for (const r of receivers) await r.stop();
  });

  test.each(
    [
      [`ftp://${PUBLIC}/hooks`, "http or https"],
      ["not a url", "absolute http or https URL"],
      [`https://user:secret@${PUBLIC}/hooks`, "credentials"],
      ["http://127.0.0.1:8080/hooks", "private, loopback or link-local"],
      ["http://localhost/hooks", "private, loopback or link-local"],
      ["http://10.1.2.3/hooks", "private"],
      ["http://192.168.0.10/hooks", "private"],
      ["http://169.254.169.254/latest/meta-data", "link-local"],
      ["http://[::1]/hooks", "private"],
      ["http://[fd00::1]/hooks", "private"],
      ["http://[::ffff:127.0.0.1]/hooks", "private"],
      ["http://0.0.0.0/hooks", "private"],
      [`https://${PUBLIC}/${"a".repeat(2100)}`, "at most 2048"],
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

  test("CreateWebhook refuses every special-purpose address over every protocol, naming the range", async () => {
    for (const protocol of ["connect-json", "connect-binary", "grpc", "grpc-web"] as const) {
      for (const [url, range] of SPECIAL) {
        const answer = await createWebhook(wire, protocol, url, t.adminKey);
        expect({ protocol, url, ...errorOf(protocol, answer) }).toEqual({
          protocol,
          url,
          code: "invalid_argument",
          reason: "FIELD_MALFORMED",
        });
        expect({ protocol, url, message: answer.message }).toEqual({
          protocol,
          url,
          message: expect.stringContaining(`url: must not point to a private, loopback or link-local address`),
        });
        expect({ protocol, url, message: answer.message }).toEqual({
          protocol,
          url,
          message: expect.stringContaining(`in ${range}`),
        });
      }
    }
    expect((await webhooksRpc(t.url, "ListWebhooks", {}, t.adminKey)).json).toEqual({});
  });

  test("unknown event types and bad namespaces are refused, naming the field", async () => {
    const types = await webhooksRpc(
      t.url,
      "CreateWebhook",
      { namespace: "n1", url: `https://${PUBLIC}/h`, events: ["user.exploded"] },
      t.adminKey,
    );
    expect(types.status).toBe(400);
    expect(String(types.json.message)).toContain("events");
    const ns = await webhooksRpc(
      t.url,
      "CreateWebhook",
      { namespace: "Not OK", url: `https://${PUBLIC}/h` },
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
      ["webhooks", "add", "--namespace", "n1", "--url", `https://${PUBLIC}/h`, "--events", "user.created,user.deleted"],
      env,
    );
    expect(added.code).toBe(0);
    const secret = /whsec_[A-Za-z0-9+/=]+/.exec(added.stdout)![0];
    const listed = await runCli(["webhooks", "list"], env);
    expect(listed.stdout).toContain(`https://${PUBLIC}/h`);
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

  test("at delivery, a special-purpose address is refused, naming the range", async () => {
    // Endpoints as the store would hold them (added before these ranges were
    // refused, or by a host that resolved elsewhere then): each attempt is
    // refused before any connection, not a connection that failed.
    const targets: Array<[id: string, url: string, range: string]> = [
      ["wh_00000000000000b1", "http://192.0.2.1:8080/hooks", "192.0.2.0/24"],
      ["wh_00000000000000b2", "http://[2002:a00:1::1]:8080/hooks", "2002::/16"],
      ["wh_00000000000000b3", "http://[::127.0.0.1]:8080/hooks", "::/96"],
    ];
    for (const [id, url] of targets) {
      await t.server.repo.insertWebhook({
        id,
        namespace: "special",
        url,
        eventTypes: [],
        sealedSecret: loadSecretBox(t.config).box.seal(
          `whsec_${randomBytes(32).toString("base64")}`,
          webhookSecretContext(id),
        ),
        createdMs: Date.now(),
      });
    }
    await t.server.users.create(
      "special",
      { id: "", username: "sp", email: "sp@example.com", password: "password-1" },
      NO_ACTOR,
    );
    const reasons = async () =>
      new Map(
        (
          await rawQuery(
            t.config.databaseUrl,
            "SELECT endpoint_id, reason FROM webhook_deliveries WHERE endpoint_id LIKE 'wh_00000000000000b%' AND reason <> ''",
          )
        ).map((r) => [String(r.endpoint_id), String(r.reason)]),
      );
    await until("a failed attempt at each endpoint", async () => (await reasons()).size === targets.length);
    const got = await reasons();
    for (const [id, , range] of targets) {
      expect({ id, reason: got.get(id) }).toEqual({ id, reason: expect.stringMatching(/^refused: must not point/) });
      expect({ id, reason: got.get(id) }).toEqual({ id, reason: expect.stringContaining(`in ${range}`) });
    }
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
    "192.0.2.1",
    "198.51.100.1",
    "203.0.113.5",
    "192.88.99.1",
    "240.0.0.1",
    "::7f00:1",
    "::ffff:c000:201",
    "64:ff9b::a00:1",
    "64:ff9b:1::1",
    "100::1",
    "2001::1",
    "2001:1ff::1",
    "2001:db8::1",
    "2002:808:808::1",
    "3fff::1",
    "5f00::1",
    "fec0::1",
    "ff02::1",
  ]) {
    expect({ inside, private: isPrivateAddress(inside) }).toEqual({ inside, private: true });
  }
  for (const outside of [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700::1111",
    "2a00:1450:4001::1",
    "2001:200::1",
    "::ffff:808:808",
    "172.32.0.1",
    "11.0.0.1",
    "192.0.3.1",
    "223.255.255.255",
  ]) {
    expect({ outside, private: isPrivateAddress(outside) }).toEqual({ outside, private: false });
  }
});
