// The outbox wired into the real server, on both engines: a queued mail is
// delivered to a real SMTP server once the sender is woken; with the mail
// server down it is retried and arrives once it is back; the metrics count
// it; and without SMTP_URL it is written as a private .eml file whose folder
// the start-up log names.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, test } from "@jest/globals";
import { describeConfig, loadConfig } from "../../src/config/config.js";
import { mailFolder } from "../../src/mail/delivery.js";
import type { NewOutboxMessage } from "../../src/mail/outbox.js";
import { ENGINES, tempDir } from "../support/databases.js";
import { httpRequest } from "../support/http.js";
import { rawQuery } from "../support/raw-query.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";

let server: TestServer | undefined;
let catcher: SmtpCatcher | undefined;
afterEach(async () => {
  await server?.close();
  await catcher?.stop();
  server = undefined;
  catcher = undefined;
});

function message(id: string, to: string): NewOutboxMessage {
  const now = Date.now();
  return {
    id,
    namespace: "default",
    recipient: to,
    subject: `hello ${id}`,
    text: `your link: https://example.com/${id}`,
    fromName: "Example",
    createdMs: now,
    expiresMs: now + 3_600_000,
  };
}

async function metric(url: string, name: string): Promise<number> {
  const { text } = await httpRequest(`${url}/metrics`, { method: "GET" });
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1]);
}

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(ENGINES)("the server's outbox (%s)", (engine) => {
  test("a queued mail goes to the SMTP server once, with the metrics counting it", async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    server = await startTestServer({ engine, env: { SMTP_URL: catcher.url, MAIL_FROM: "accounts@example.com" } });
    await server.server.repo.queueMail(message("m-1", "alice@example.com"));
    server.server.mailSender.wake();
    const [mail] = await catcher.untilCount(1);
    expect(mail).toMatchObject({
      to: "alice@example.com",
      from: "accounts@example.com",
      fromName: "Example",
      subject: "hello m-1",
    });
    await until(async () => (await metric(server!.url, "users_mail_sent_total")) === 1);
    expect(await metric(server.url, "users_mail_queued")).toBe(0);
    expect(await rawQuery(server.config.databaseUrl, "SELECT body, status FROM mail_outbox")).toEqual([
      { body: "", status: "sent" },
    ]);
    // Delivered once: more rounds send nothing more.
    server.server.mailSender.wake();
    await new Promise((r) => setTimeout(r, 300));
    expect(catcher.mails).toHaveLength(1);
  });

  test("with the mail server down the mail waits in the outbox, and arrives once it is back", async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    await catcher.stop();
    server = await startTestServer({ engine, env: { SMTP_URL: catcher.url } });
    await server.server.repo.queueMail(message("m-2", "bob@example.com"));
    server.server.mailSender.wake();
    const url = server.config.databaseUrl;
    await until(async () => Number((await rawQuery(url, "SELECT attempts FROM mail_outbox"))[0]?.attempts) >= 1);
    expect(await metric(server.url, "users_mail_queued")).toBe(1);
    expect(await metric(server.url, "users_mail_oldest_queued_seconds")).toBeGreaterThan(0);
    const [row] = await rawQuery(url, "SELECT status, reason FROM mail_outbox");
    expect(row).toMatchObject({ status: "queued" });
    expect(String(row!.reason)).toMatch(/ECONNREFUSED|ESOCKET|ECONNECTION/);
    await catcher.start();
    const [mail] = await catcher.untilCount(1);
    expect(mail).toMatchObject({ to: "bob@example.com", subject: "hello m-2" });
    await until(async () => (await metric(server!.url, "users_mail_queued")) === 0);
    expect(catcher.mails).toHaveLength(1);
  }, 30_000);
});

describe("without SMTP_URL", () => {
  test("mail is written as a private .eml file beside the SQLite database, and the start-up log says where", async () => {
    const dir = tempDir();
    server = await startTestServer({ databaseUrl: `sqlite:${path.join(dir, "users.db")}` });
    const folder = path.join(dir, "mail");
    expect(server.logs.some((l) => l.includes('"mail delivery"') && l.includes(folder))).toBe(true);
    await server.server.repo.queueMail(message("m-3", "carol@example.com"));
    server.server.mailSender.wake();
    await until(async () => fs.existsSync(folder) && fs.readdirSync(folder).length === 1);
    const [file] = fs.readdirSync(folder);
    expect(fs.statSync(folder).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(folder, file!)).mode & 0o777).toBe(0o600);
    const eml = fs.readFileSync(path.join(folder, file!), "utf8");
    expect(eml).toContain("To: carol@example.com");
    expect(eml).toContain("https://example.com/m-3");
  });

  test("with PostgreSQL and no MAIL_DIR, mail goes to ./data/mail", () => {
    const config = loadConfig({ DATABASE_URL: "postgres://u:p@db:5432/users" });
    expect(mailFolder(config)).toBe(path.resolve("data", "mail"));
    expect(mailFolder({ ...config, mailDir: "/var/mail/users" })).toBe("/var/mail/users");
  });
});

describe("mail settings", () => {
  test("SMTP_URL's credentials never reach the start-up log", () => {
    const config = loadConfig({ SMTP_URL: "smtps://mailer:hunter2-secret@smtp.example.com:465" });
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain("hunter2-secret");
    expect(shown).not.toContain("mailer");
    expect(shown).toContain("smtps://***:***@smtp.example.com:465");
  });

  test("bad mail settings stop the start, naming the variable and the rule (and not echoing a secret)", () => {
    expect(() => loadConfig({ SMTP_URL: "http://user:s3cret@example.com" })).toThrow(
      /SMTP_URL: must start with smtp:\/\/ or smtps:\/\//,
    );
    expect(() => loadConfig({ SMTP_URL: "http://user:s3cret@example.com" })).not.toThrow(/s3cret/);
    expect(() => loadConfig({ PUBLIC_URL: "ftp://x" })).toThrow(/PUBLIC_URL/);
    expect(() => loadConfig({ REDIRECT_ORIGINS: "https://app.example.com/path" })).toThrow(/REDIRECT_ORIGINS/);
    expect(() => loadConfig({ MAIL_FROM: "not an address" })).toThrow(/MAIL_FROM/);
    expect(loadConfig({ PUBLIC_URL: "https://users.example.com/" }).publicUrl).toBe("https://users.example.com");
  });
});
