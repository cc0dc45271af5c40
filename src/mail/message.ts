// A mail as the service hands it to a transport, and the transports' shape.
// Bodies may hold a one-time link or code: they are never logged.

export interface OutgoingMail {
  /** The outbox row's id: also the message's Message-ID local part, so a resend is recognisable. */
  id: string;
  to: string;
  subject: string;
  text: string;
  /** Display name of the sender; the address is MAIL_FROM. */
  fromName: string;
}

export interface MailTransport {
  /** Human description for the start-up log (never credentials). */
  readonly describe: string;
  /** Resolves once the mail is accepted for delivery; rejects with a reason otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}
