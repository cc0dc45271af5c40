// The outbox under faults, with the server as real processes: killed with
// SIGKILL right after it committed verification mails (before it could send
// them), then started again: every mail arrives, once. And two replicas on
// one PostgreSQL outbox: mails queued through both, while the mail server is
// down, arrive once each when it is back, though both replicas deliver.
import { afterEach, describe, expect, test } from "@jest/globals";
import { type ServerProcess, startServerProcess } from "../reliability/support/server-process.js";
import { Wire } from "../reliability/support/wire.js";
import { ENGINES, freshDatabaseUrl } from "../support/databases.js";
import { rawQuery } from "../support/raw-query.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { linkIn, ok, PUBLIC_URL, until } from "./support.js";

const ADMIN_KEY = `mail-faults-admin-${"k".repeat(30)}`;
const HEADERS = { authorization: `Bearer ${ADMIN_KEY}` };
const USERS = 12;

let catcher: SmtpCatcher | undefined;
const processes: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop("SIGKILL")));
  await catcher?.stop();
});

function serverEnv(databaseUrl: string, smtpUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    BCRYPT_COST: "4",
    USERS_BOOTSTRAP_KEY: ADMIN_KEY,
    SMTP_URL: smtpUrl,
    PUBLIC_URL,
    PG_POOL_SIZE: "4",
    // A mail the killed process had claimed comes back after this.
    MAIL_LEASE_SECONDS: "5",
    LOG_LEVEL: "info",
  };
}

async function queueVerifications(servers: ServerProcess[], prefix: string): Promise<string[]> {
  const emails: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const server = servers[i % servers.length]!;
    const wire = new Wire(server.url);
    try {
      const email = `${prefix}${i}@example.com`;
      await ok(wire, "m3o", "create", { username: `${prefix}${i}`, email, password: "password-123" }, HEADERS);
      await ok(wire, "m3o", "sendVerificationEmail", { email }, HEADERS);
      emails.push(email);
    } finally {
      wire.close();
    }
  }
  return emails;
}

describe.each(ENGINES)("mail outbox faults (%s)", (engine) => {
  test("SIGKILL between commit and send: after a restart every mail goes out, once, and its link works", async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    const smtpUrl = catcher.url;
    // Down while the mails are committed, so none can leave before the kill.
    await catcher.stop();
    const databaseUrl = await freshDatabaseUrl(engine);
    const first = await startServerProcess(serverEnv(databaseUrl, smtpUrl));
    processes.push(first);
    const emails = await queueVerifications([first], "killed");
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect((await rawQuery(databaseUrl, "SELECT count(*) AS n FROM mail_outbox WHERE status = 'queued'"))[0]!.n).toBe(
      engine === "sqlite" ? USERS : String(USERS),
    );

    await catcher.start();
    const second = await startServerProcess(serverEnv(databaseUrl, smtpUrl));
    processes.push(second);
    await catcher.untilCount(USERS);
    await until(async () =>
      (await rawQuery(databaseUrl, "SELECT status FROM mail_outbox")).every((r) => r.status === "sent"),
    );
    await new Promise((r) => setTimeout(r, 1500)); // a poll round more: still nothing sent twice
    expect(catcher.mails.map((m) => m.to).sort()).toEqual([...emails].sort());
    // The links the dead process committed still verify.
    const { path } = linkIn(catcher.to(emails[0]!)[0]!);
    const res = await fetch(`${second.url}${path}`, { redirect: "manual" });
    expect(res.status).toBe(200);
  }, 90_000);
});

const postgresOnly = ENGINES.includes("postgres") ? describe : describe.skip;

postgresOnly("two replicas sharing one PostgreSQL outbox", () => {
  test("mails queued through both while the mail server is down arrive once each when it is back", async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    const smtpUrl = catcher.url;
    await catcher.stop();
    const env = serverEnv(await freshDatabaseUrl("postgres"), smtpUrl);
    const replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    processes.push(...replicas);
    const emails = await queueVerifications(replicas, "replica");
    await catcher.start();
    await catcher.untilCount(USERS);
    await until(async () =>
      (await rawQuery(env.DATABASE_URL!, "SELECT status FROM mail_outbox")).every((r) => r.status === "sent"),
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(catcher.mails.map((m) => m.to).sort()).toEqual([...emails].sort());
    // Each replica counts what it delivered: together, each mail once.
    const sent = await Promise.all(
      replicas.map(async (r) => {
        const text = await (await fetch(`${r.url}/metrics`)).text();
        return Number(/^users_mail_sent_total (\d+)/m.exec(text)?.[1]);
      }),
    );
    console.log(`mails delivered per replica: ${sent.join(" + ")} = ${USERS}`);
    expect(sent[0]! + sent[1]!).toBe(USERS);
  }, 90_000);
});
