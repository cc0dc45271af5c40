// The outbox sender against a real SMTP server (smtp-server in this process)
// and a real nodemailer transport, over an in-memory outbox: delivery, the
// body erased once sent, retries while the mail server is down, giving up,
// and two senders sharing one outbox sending each message once.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "@jest/globals";
import { fileMailbox } from "../../src/mail/file-mailbox.js";
import { OutboxSender } from "../../src/mail/outbox-sender.js";
import { smtpTransport } from "../../src/mail/smtp-transport.js";
import { TestClock } from "../support/clock.js";
import { MemoryRepository } from "../support/memory-repository.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";

const FROM = "accounts@example.com";
let catcher: SmtpCatcher;
let store: MemoryRepository;
let clock: TestClock;

beforeEach(async () => {
  catcher = new SmtpCatcher();
  await catcher.start();
  store = new MemoryRepository();
  clock = new TestClock();
});
afterEach(() => catcher.stop());

function queue(id: string, to: string, lifetimeSeconds = 3600): void {
  store.queueMail({
    id,
    namespace: "mail",
    recipient: to,
    subject: `subject ${id}`,
    text: `secret link for ${id}`,
    fromName: "Example App",
    createdMs: clock.now(),
    expiresMs: clock.now() + lifetimeSeconds * 1000,
  });
}

function sender(maxAttempts = 5) {
  return new OutboxSender({
    store,
    transport: smtpTransport(catcher.url, FROM),
    now: clock.now,
    maxAttempts,
    baseBackoffMs: 1000,
    maxBackoffMs: 60_000,
    random: () => 0.5,
  });
}

describe("the outbox sender", () => {
  test("delivers a queued mail with its sender name, and erases the body once sent", async () => {
    queue("m1", "alice@example.com");
    expect(await sender().deliverDue()).toBe(1);
    const [mail] = catcher.to("alice@example.com");
    expect(mail).toMatchObject({ subject: "subject m1", from: FROM, fromName: "Example App" });
    expect(mail!.text.trim()).toBe("secret link for m1");
    expect(mail!.messageId).toBe(`<m1@example.com>`);
    expect(store.outbox[0]).toMatchObject({ status: "sent", text: "" });
    // Nothing left to send.
    expect(await sender().deliverDue()).toBe(0);
  });

  test("while the SMTP server is down it retries with backoff; once up, the mail arrives", async () => {
    queue("m2", "bob@example.com");
    await catcher.stop();
    const s = sender();
    expect(await s.deliverDue()).toBe(1);
    expect(store.outbox[0]).toMatchObject({ status: "queued", attempts: 1, nextAttemptMs: clock.now() + 1000 });
    expect(store.outbox[0]!.reason).toMatch(/ECONNREFUSED/);
    expect(await s.deliverDue()).toBe(0); // not due yet
    clock.advance(1);
    expect(await s.deliverDue()).toBe(1);
    expect(store.outbox[0]).toMatchObject({ attempts: 2, nextAttemptMs: clock.now() + 2000 });

    await catcher.start();
    clock.advance(2);
    expect(await s.deliverDue()).toBe(1);
    expect(catcher.to("bob@example.com")).toHaveLength(1);
    expect(store.outbox[0]).toMatchObject({ status: "sent", attempts: 3, text: "" });
  });

  test("gives up after MAIL_MAX_ATTEMPTS, or once the mail's token has expired, and keeps why", async () => {
    queue("m3", "carol@example.com");
    queue("m4", "dave@example.com", 1);
    await catcher.stop();
    const s = sender(2);
    await s.deliverDue();
    // m4's token expires before its retry would be due: given up now.
    expect(store.outbox[1]).toMatchObject({ status: "failed", text: "" });
    expect(store.outbox[1]!.reason).toMatch(/^expired: /);
    clock.advance(1);
    await s.deliverDue();
    expect(store.outbox[0]).toMatchObject({ status: "failed", attempts: 2, text: "" });
    expect(store.outbox[0]!.reason).toMatch(/^gave up after 2 attempts: /);
  });

  test("two senders sharing one outbox send each mail once", async () => {
    for (let i = 0; i < 30; i++) queue(`p${i}`, `user${i}@example.com`);
    const a = sender();
    const b = sender();
    const rounds = await Promise.all([a.deliverDue(), b.deliverDue(), a.deliverDue(), b.deliverDue()]);
    while ((await a.deliverDue()) + (await b.deliverDue()) > 0);
    expect(rounds.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    expect(catcher.mails).toHaveLength(30);
    expect(new Set(catcher.mails.map((m) => m.to)).size).toBe(30);
  });

  test("start() delivers in the background and wake() sends a new mail at once", async () => {
    const s = new OutboxSender({
      store,
      transport: smtpTransport(catcher.url, FROM),
      now: clock.now,
      maxAttempts: 5,
      pollMs: 60_000,
    });
    s.start();
    try {
      queue("w1", "erin@example.com");
      s.wake();
      await catcher.untilCount(1);
      expect(catcher.mails[0]!.to).toBe("erin@example.com");
    } finally {
      await s.stop();
    }
  });
});

describe("the file mailbox", () => {
  test("writes each mail as an .eml file only its owner can read, in a folder only its owner can enter", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "users-mailbox-"));
    const folder = path.join(dir, "mail");
    const box = fileMailbox(folder, FROM);
    await box.send({ id: "f1", to: "frank@example.com", subject: "hello", text: "link here", fromName: "App" });
    const files = fs.readdirSync(folder);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/-f1\.eml$/);
    expect(fs.statSync(folder).mode & 0o777).toBe(0o700);
    const file = path.join(folder, files[0]!);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const eml = fs.readFileSync(file, "utf8");
    expect(eml).toMatch(/^To: frank@example.com$/m);
    expect(eml).toMatch(/^Subject: hello$/m);
    expect(eml).toContain("link here");
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
