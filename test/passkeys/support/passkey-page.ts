// The passkey test page (page/main.ts, bundled by esbuild) served on its own
// port and opened as http://localhost:PORT: WebAuthn needs a secure context,
// and localhost is one (127.0.0.1 may not be). Each page gets a DevTools
// virtual authenticator (CTAP2, internal, resident keys, user verification).
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Browser, CDPSession, Page } from "playwright-core";

const ENTRY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../page/main.ts");
const INDEX = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Passkeys</title>
<script type="module" src="/page.js"></script></head><body><h1>An app with passkeys</h1></body></html>`;

export interface PageServer {
  /** http://localhost:PORT */
  origin: string;
  close(): Promise<void>;
}

let bundle: Promise<string> | undefined;

function pageScript(): Promise<string> {
  bundle ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "warning",
  }).then((result) => result.outputFiles[0]!.text);
  return bundle;
}

export async function startPasskeyPage(): Promise<PageServer> {
  const script = await pageScript();
  const server = http.createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return void res.end(INDEX);
    }
    if (req.url === "/page.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      return void res.end(script);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface AuthenticatorPage {
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
  close(): Promise<void>;
}

/** The page in a fresh context, with a virtual authenticator that verifies its user. */
export async function openWithAuthenticator(browser: Browser, origin: string): Promise<AuthenticatorPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.goto(`${origin}/`);
  await page.waitForFunction("typeof registerPasskey === 'function'");
  return { page, cdp, authenticatorId, close: () => context.close() };
}
