// Delivery over SMTP with nodemailer: SMTP_URL is smtp://[user:pass@]host[:port]
// (STARTTLS is used whenever the server offers it) or smtps://... (TLS from the
// first byte).
import nodemailer, { type SendMailOptions } from "nodemailer";
import type { MailTransport, OutgoingMail } from "./message.js";

export function smtpTransport(url: string, fromAddress: string): MailTransport {
  const parsed = new URL(url);
  const transporter = nodemailer.createTransport({
    url,
    // Bounded waits: a dead SMTP server must not hold the sender for minutes.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    describe: `SMTP ${parsed.protocol}//${parsed.hostname}${parsed.port ? `:${parsed.port}` : ""}`,
    async send(mail: OutgoingMail) {
      await transporter.sendMail(envelope(mail, fromAddress));
    },
    close: () => transporter.close(),
  };
}

/** The nodemailer message for a mail: plain text, the configured address with the caller's display name. */
export function envelope(mail: OutgoingMail, fromAddress: string): SendMailOptions {
  const domain = fromAddress.split("@")[1] ?? "localhost";
  return {
    from: { name: mail.fromName, address: fromAddress },
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    messageId: `<${mail.id}@${domain}>`,
  };
}
