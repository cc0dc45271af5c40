// A real SMTP server in the test process (the smtp-server package) that keeps
// every mail it receives, parsed by mailparser. It can be stopped and started
// again on the same port, to test delivery to a mail server that is down.
import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface CaughtMail {
  to: string;
  from: string;
  fromName: string;
  subject: string;
  text: string;
  messageId: string;
}

export class SmtpCatcher {
  readonly mails: CaughtMail[] = [];
  private server: SMTPServer | undefined;
  private waiters: Array<() => void> = [];
  port = 0;

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData: (stream, _session, callback) => {
        simpleParser(stream)
          .then((parsed: ParsedMail) => {
            const from = parsed.from?.value[0];
            const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
            this.mails.push({
              to: to?.value[0]?.address ?? "",
              from: from?.address ?? "",
              fromName: from?.name ?? "",
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              messageId: parsed.messageId ?? "",
            });
            for (const wake of this.waiters.splice(0)) wake();
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening (the port stays this catcher's, for start() again). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves once `count` mails arrived in all (bounded by the test's timeout). */
  async untilCount(count: number): Promise<CaughtMail[]> {
    while (this.mails.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.mails;
  }

  /** The mails to `address`, oldest first. */
  to(address: string): CaughtMail[] {
    return this.mails.filter((m) => m.to === address);
  }
}
