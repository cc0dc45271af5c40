// Shared by the account-lifecycle tests: a server with a real SMTP catcher,
// links and codes read from the mails it catches, and plain GETs of a link.
import http from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import { type RpcAnswer, rpc } from "../reliability/support/rpc.js";
import type { Protocol, Wire } from "../reliability/support/wire.js";
import type { Engine } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import type { CaughtMail, SmtpCatcher } from "../support/smtp-catcher.js";

export const PUBLIC_URL = "https://users.example.com";
export const APP = "https://app.example.com";

/** The server's clock runs `offsetMs` ahead of real time (tests move it to expire tokens). */
export const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };

export function lifecycleServer(engine: Engine, catcher: SmtpCatcher, env: Record<string, string> = {}) {
  return startTestServer({
    engine,
    now: clock.now,
    env: { SMTP_URL: catcher.url, MAIL_FROM: "accounts@example.com", PUBLIC_URL, REDIRECT_ORIGINS: APP, ...env },
  });
}

/** Waits for the next mail to `address` after `seen` of them (bounded by the test's timeout). */
export async function nextMail(catcher: SmtpCatcher, address: string, seen: number): Promise<CaughtMail> {
  for (;;) {
    const mails = catcher.to(address);
    if (mails.length > seen) return mails[seen]!;
    await catcher.untilCount(catcher.mails.length + 1);
  }
}

/** The verification link in a mail, and its token. */
export function linkIn(mail: CaughtMail): { path: string; token: string } {
  const match = /https:\/\/users\.example\.com(\/users\/verify-email\?token=([A-Za-z0-9_-]+))/.exec(mail.text);
  if (!match) throw new Error(`no verification link in: ${mail.text}`);
  return { path: match[1]!, token: match[2]! };
}

export interface LinkAnswer {
  status: number;
  location: string | undefined;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Opens a link as a browser does (GET, no redirects followed). */
export function openLink(t: TestServer, path: string): Promise<LinkAnswer> {
  return new Promise((resolve, reject) => {
    http
      .get(`${t.url}${path}`, { agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, location: res.headers.location, headers: res.headers, text }),
        );
      })
      .on("error", reject);
  });
}

export async function ok(
  wire: Wire,
  protocol: Protocol,
  method: Parameters<typeof rpc>[2],
  request: JsonObject,
  headers: Record<string, string>,
): Promise<RpcAnswer> {
  const answer = await rpc(wire, protocol, method, request, headers);
  if (answer.code !== "ok") throw new Error(`${method} over ${protocol}: ${answer.code} ${answer.message}`);
  return answer;
}

/** Polls `check` until it holds (bounded by the test's timeout). */
export async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}

/** The password reset code in a mail (10 characters of Crockford base32). */
export function codeIn(mail: CaughtMail): string {
  const match = /(?:^|\s)([0-9A-HJKMNP-TV-Z]{10})(?:\s|$)/.exec(mail.text);
  if (!match) throw new Error(`no reset code in: ${mail.text}`);
  return match[1]!;
}

/** The magic link in a mail to the app at APP, and its token. */
export function magicLinkIn(mail: CaughtMail): { url: string; token: string } {
  const match = /(https:\/\/app\.example\.com\/[^\s?]*\?token=([A-Za-z0-9_-]+))/.exec(mail.text);
  if (!match) throw new Error(`no magic link in: ${mail.text}`);
  return { url: match[1]!, token: match[2]! };
}
