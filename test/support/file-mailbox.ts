// Reads the file mailbox (mail written as .eml files when SMTP_URL is unset),
// as a newcomer trying the flows without a mail server would.
import fs from "node:fs";
import path from "node:path";
import { simpleParser } from "mailparser";

/** The text of the next mail to `to` in `folder` not in `seen` (waits up to 10 s for it); marks it seen. */
export async function mailTo(folder: string, to: string, seen: Set<string> = new Set()): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const names = fs.existsSync(folder) ? fs.readdirSync(folder).filter((n) => !seen.has(n)) : [];
    for (const name of names.sort()) {
      const mail = await simpleParser(fs.readFileSync(path.join(folder, name)));
      const recipients = [mail.to].flat().map((a) => a?.text ?? "");
      if (recipients.includes(to)) {
        seen.add(name);
        return mail.text ?? "";
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no mail to ${to} in ${folder}`);
}
