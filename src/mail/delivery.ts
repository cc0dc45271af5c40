// Where mail goes: the SMTP server SMTP_URL names, or, without one, .eml
// files in a folder (MAIL_DIR; by default beside the SQLite database, or
// ./data/mail with PostgreSQL), so the flows can be tried with no mail server.
import path from "node:path";
import type { Config } from "../config/config.js";
import { parseDatabaseUrl } from "../storage/database-url.js";
import { fileMailbox } from "./file-mailbox.js";
import type { MailTransport } from "./message.js";
import { smtpTransport } from "./smtp-transport.js";

export type DeliverySettings = Pick<Config, "smtpUrl" | "mailFrom" | "mailDir" | "databaseUrl">;

export function mailTransport(settings: DeliverySettings): MailTransport {
  if (settings.smtpUrl !== "") return smtpTransport(settings.smtpUrl, settings.mailFrom);
  return fileMailbox(mailFolder(settings), settings.mailFrom);
}

export function mailFolder(settings: Pick<Config, "mailDir" | "databaseUrl">): string {
  if (settings.mailDir !== "") return path.resolve(settings.mailDir);
  const target = parseDatabaseUrl(settings.databaseUrl);
  if (target.engine === "sqlite" && target.path !== ":memory:")
    return path.join(path.dirname(path.resolve(target.path)), "mail");
  return path.resolve("data", "mail");
}
