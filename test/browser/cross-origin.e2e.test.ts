// The generated client in a real browser, from a page on another origin:
// Login then ReadSession over Connect and over gRPC-Web (connect-web), and
// the M3O path with plain fetch. Allowed when the page's origin is listed in
// CORS_ORIGINS; refused by the browser (and never run by the server) when not.
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import type { Browser, Page } from "playwright-core";
import { startTestServer, type TestServer } from "../support/server.js";
import type { Outcome, Plan } from "./page/main.js";
import { adminClient } from "./support/api.js";
import { launchChromium } from "./support/chromium.js";
import { type PageServer, startPageServer } from "./support/page-server.js";
import { screenshot } from "./support/screenshots.js";

jest.setTimeout(120_000);

const PROTOCOLS = ["connect", "grpc-web"] as const;
const USER = { username: "webuser", email: "webuser@example.com", password: "web password" };

describe("the generated client from another origin, in Chromium", () => {
  let t: TestServer;
  let listed: PageServer;
  let unlisted: PageServer;
  let browser: Browser;
  let userId: string;

  beforeAll(async () => {
    [listed, unlisted] = await Promise.all([startPageServer(), startPageServer()]);
    t = await startTestServer({ env: { CORS_ORIGINS: listed.origin } });
    const { user } = await adminClient(t.url, t.adminKey).create(USER);
    userId = user!.id;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await Promise.all([listed?.close(), unlisted?.close()]);
  });

  /** Opens the test page of a page server in a fresh browser context. */
  async function openPage(from: PageServer): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    await page.goto(`${from.origin}/`);
    await page.waitForFunction("typeof loginAndReadSession === 'function'");
    return page;
  }

  const plan = (protocol: Plan["protocol"], overrides: Partial<Plan> = {}): Plan => ({
    baseUrl: t.url,
    protocol,
    key: t.adminKey,
    username: USER.username,
    password: USER.password,
    ...overrides,
  });

  const loginCalls = () => t.logs.filter((line) => line.includes('"rpc":"users.v1.Users/Login"')).length;

  describe.each(PROTOCOLS)("over %s", (protocol) => {
    test("a page with a public key reads its own account with x-session-id; Search is refused", async () => {
      const { key } = await t.server.keys.create("default", "web app", "public");
      const page = await openPage(listed);
      try {
        const outcome = await page.evaluate(`publicOwnAccount(${JSON.stringify(plan(protocol, { key }))})`);
        expect(outcome).toEqual({ username: USER.username, search: "PermissionDenied" });
      } finally {
        await page.context().close();
      }
    });

    test("a listed origin can log in and read the session", async () => {
      const page = await openPage(listed);
      try {
        const outcome = (await page.evaluate(`loginAndReadSession(${JSON.stringify(plan(protocol))})`)) as Outcome;
        expect(outcome).toMatchObject({ ok: true, userId, username: USER.username });
        if (!outcome.ok) return;
        expect(outcome.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
        // x-request-id is readable only because the server exposes it.
        expect(outcome.requestId).toMatch(/\S/);
        await screenshot(page, `cross-origin-${protocol}-allowed`);
      } finally {
        await page.context().close();
      }
    });

    test("a listed origin sees the service's error code and message", async () => {
      const page = await openPage(listed);
      try {
        const outcome = (await page.evaluate(
          `loginAndReadSession(${JSON.stringify(plan(protocol, { password: "wrong password" }))})`,
        )) as Outcome;
        expect(outcome).toEqual({ ok: false, code: "Unauthenticated", message: "invalid credentials" });
      } finally {
        await page.context().close();
      }
    });

    test("an unlisted origin is refused by the browser, and the call never runs", async () => {
      const page = await openPage(unlisted);
      try {
        const before = loginCalls();
        const outcome = (await page.evaluate(`loginAndReadSession(${JSON.stringify(plan(protocol))})`)) as Outcome;
        expect(outcome.ok).toBe(false);
        if (!outcome.ok) expect(outcome.message).toMatch(/fetch/i);
        // The preflight was answered without CORS headers, so the browser never sent the Login.
        expect(loginCalls()).toBe(before);
      } finally {
        await page.context().close();
      }
    });
  });

  test("the M3O path answers a listed origin and is refused to an unlisted one", async () => {
    const call = `m3oLogin(${JSON.stringify({ baseUrl: t.url, key: t.adminKey, username: USER.username, password: USER.password })})`;
    const allowedPage = await openPage(listed);
    const refusedPage = await openPage(unlisted);
    try {
      const allowed = (await allowedPage.evaluate(call)) as {
        status: number;
        body: { session: { user_id: string } };
        requestId: string;
      };
      expect(allowed.status).toBe(200);
      expect(allowed.requestId).toMatch(/\S/);
      expect(allowed.body.session.user_id).toBe(userId);
      const refused = (await refusedPage.evaluate(call)) as { error?: string };
      expect(refused.error).toMatch(/fetch/i);
    } finally {
      await allowedPage.context().close();
      await refusedPage.context().close();
    }
  });
});
