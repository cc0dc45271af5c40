// Without SMTP_URL, mail is written as .eml files to a folder only the
// service's user can read (they hold live links and codes), so a newcomer can
// try every flow with no mail server: open the newest file.
import fs from "node:fs";
import path from "node:path";
import nodemailer from "nodemailer";
import type { MailTransport, OutgoingMail } from "./message.js";
import { envelope } from "./smtp-transport.js";

export function fileMailbox(folder: string, fromAddress: string): MailTransport {
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  let made = false;
  return {
    describe: `files in ${folder}`,
    async send(mail: OutgoingMail) {
      if (!made) {
        fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
        fs.chmodSync(folder, 0o700);
        made = true;
      }
      const info = await builder.sendMail(envelope(mail, fromAddress));
      const name = `${new Date().toISOString().replace(/[:.]/g, "-")}-${mail.id}.eml`;
      // "wx": never through an existing file or a planted link.
      await fs.promises.writeFile(path.join(folder, name), info.message as Buffer, { mode: 0o600, flag: "wx" });
    },
    close: () => builder.close(),
  };
}
