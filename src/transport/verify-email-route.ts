// GET /users/verify-email?token=...: the link in a verification mail. It
// verifies the email and sends the browser on with 303: to the redirect_url
// the mail was sent with, or, when the token is expired, used or voided, to
// its failure_redirect_url. Without one, a short plain page answers (400 for
// a bad link). No API key: the token is the proof.
//
// The token is in the URL, so: the answer is never cached, and the next page
// is told not to send this URL as Referer (Referrer-Policy: no-referrer). The
// URL is never logged.
import type { Logger } from "../observability/logger.js";
import { VERIFY_EMAIL_PATH, type VerificationService } from "../service/verification.js";
import type { Route } from "./http-handler.js";
import type { RequestHandler } from "./listener.js";

type Res = Parameters<RequestHandler>[1];

const PAGES = {
  verified: "Your email address is verified. You can close this page.\n",
  invalid: "This link is invalid or has expired. Ask for a new verification mail.\n",
  unavailable: "The service cannot verify your email right now. Try the link again later.\n",
};

export function verifyEmailRoute(verification: VerificationService, logger: Logger): Route {
  return {
    path: VERIFY_EMAIL_PATH,
    handle: (req, res) => {
      if (req.method !== "GET") {
        res.setHeader("allow", "GET");
        return page(res, 405, "use GET\n");
      }
      const token = new URL(req.url ?? "/", "http://link").searchParams.get("token") ?? "";
      verification.verifyLink(token).then(
        (outcome) => {
          if (outcome.redirectUrl !== "") return redirect(res, outcome.redirectUrl);
          page(res, outcome.verified ? 200 : 400, outcome.verified ? PAGES.verified : PAGES.invalid);
        },
        (err: unknown) => {
          logger.warn(
            { err: { name: (err as Error).name, message: (err as Error).message } },
            "verify-email link failed",
          );
          if (!res.headersSent) page(res, 503, PAGES.unavailable);
        },
      );
    },
  };
}

const PRIVATE_HEADERS = { "cache-control": "no-store", "referrer-policy": "no-referrer" };

function redirect(res: Res, location: string): void {
  res.writeHead(303, { ...PRIVATE_HEADERS, location, "content-length": 0 });
  res.end();
}

function page(res: Res, status: number, text: string): void {
  res.writeHead(status, {
    ...PRIVATE_HEADERS,
    "content-type": "text/plain; charset=utf-8",
    "x-content-type-options": "nosniff",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
