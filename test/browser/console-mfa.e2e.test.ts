// The user page's second factors in headless Chromium against the real
// server: TOTP on with the recovery codes left, and an admin removing the
// factor of a locked-out user (after a confirmation), after which Login
// answers a session again; a user without TOTP shows it off, with no button.
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import type { Browser, Page } from "playwright-core";
import { codeAt } from "../mfa/support.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { adminClient, type UsersClient } from "./support/api.js";
import { launchChromium } from "./support/chromium.js";
import { screenshot } from "./support/screenshots.js";

jest.setTimeout(180_000);

describe("second factors in the console, in Chromium", () => {
  let t: TestServer;
  let api: UsersClient;
  let browser: Browser;
  let page: Page;
  const pageProblems: string[] = [];

  beforeAll(async () => {
    t = await startTestServer();
    api = adminClient(t.url, t.adminKey);
    const { user } = await api.create({ username: "carol", email: "carol@example.com", password: "carol password" });
    await api.create({ username: "dave", email: "dave@example.com", password: "dave password" });
    const { secret } = await api.enrollTotp({ userId: user!.id });
    const { recoveryCodes } = await api.confirmTotp({ userId: user!.id, code: codeAt(secret, Date.now()) });
    // Two codes used: 8 left.
    for (const recoveryCode of recoveryCodes.slice(0, 2)) {
      const { mfaTicket } = await api.login({ username: "carol", password: "carol password" });
      await api.verifyMfa({ mfaTicket: mfaTicket!, recoveryCode });
    }
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1024, height: 900 } })).newPage();
    page.setDefaultTimeout(60_000);
    page.on("console", (message) => {
      if (message.type() === "error") pageProblems.push(message.text());
    });
    page.on("pageerror", (error) => pageProblems.push(String(error)));
    await page.goto(`${t.url}/console`);
    await page.getByLabel("API key", { exact: true }).fill(t.adminKey);
    await page.getByRole("button", { name: "Open the console" }).click();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const panel = () => page.getByRole("region", { name: "Second factors" });
  const openUser = async (username: string) => {
    await page.getByRole("table").getByRole("button", { name: username }).click();
    await page.getByRole("heading", { name: `User ${username}`, level: 2 }).waitFor();
  };

  test("shows TOTP on and the recovery codes left, and an admin removes it", async () => {
    await openUser("carol");
    await panel().getByText("Recovery codes left").waitFor();
    expect(await panel().locator("dd").allTextContents()).toEqual(["On", "8"]);
    await screenshot(page, "console-mfa-01-on");

    // Cancel first: nothing changes.
    await panel().getByRole("button", { name: "Remove TOTP…" }).click();
    await page.getByRole("dialog", { name: "Remove TOTP of carol?" }).getByRole("button", { name: "Cancel" }).click();
    expect(
      (await api.getMfaStatus({ userId: (await api.search({ username: "carol" })).users[0]!.id })).totpEnabled,
    ).toBe(true);

    await panel().getByRole("button", { name: "Remove TOTP…" }).click();
    const dialog = page.getByRole("dialog", { name: "Remove TOTP of carol?" });
    await screenshot(page, "console-mfa-02-confirm");
    await dialog.getByRole("button", { name: "Remove TOTP" }).click();
    await page.getByRole("status").getByText("TOTP of carol was removed.").waitFor();
    await panel().locator("dd", { hasText: "Off" }).waitFor();
    expect(await panel().locator("dd").allTextContents()).toEqual(["Off", "0"]);
    expect(await panel().getByRole("button").count()).toBe(0);
    await screenshot(page, "console-mfa-03-removed");

    // The service saw it: Login answers a session, and the removal is in the log.
    const login = await api.login({ username: "carol", password: "carol password" });
    expect(login.session?.username).toBe("carol");
    expect(login.mfaRequired).toBeUndefined();
    expect(t.logs.some((line) => line.includes("second factor removed without a code (admin removal)"))).toBe(true);
  });

  test("a user without TOTP shows it off, with nothing to remove", async () => {
    await page.getByRole("button", { name: "← Back to users" }).click();
    await openUser("dave");
    await panel().locator("dd", { hasText: "Off" }).waitFor();
    expect(await panel().locator("dd").allTextContents()).toEqual(["Off", "0"]);
    expect(await panel().getByRole("button").count()).toBe(0);
    expect(pageProblems).toEqual([]);
  });
});
