// The console's API keys page in headless Chromium against the real server:
// an admin lists, creates (role and namespace) and revokes keys, a new key is
// shown once and works as its role says; a service key is told in words that
// it may not manage keys.
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startTestServer, type TestServer } from "../support/server.js";
import { launchChromium } from "./support/chromium.js";
import { screenshot } from "./support/screenshots.js";

jest.setTimeout(180_000);

describe("console: API keys in Chromium", () => {
  let t: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let serviceKey: string;
  let storefrontKey: string;
  const pageProblems: string[] = [];

  beforeAll(async () => {
    t = await startTestServer();
    serviceKey = (await t.server.keys.create("acme", "backend")).key;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(60_000);
    page.on("console", (message) => {
      if (message.type() === "error") pageProblems.push(message.text());
    });
    page.on("pageerror", (error) => pageProblems.push(String(error)));
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await t?.close();
  });

  const heading = (name: string | RegExp) => page.getByRole("heading", { name, level: 2 });
  const signIn = async (key: string, namespace: string) => {
    await page.goto(`${t.url}/console`);
    await heading("Sign in with an API key").waitFor();
    await page.getByLabel("API key", { exact: true }).fill(key);
    await page.getByLabel("Namespace", { exact: true }).fill(namespace);
    await page.getByRole("button", { name: "Open the console" }).click();
    await heading("Users").waitFor();
  };
  const publicCall = (key: string, method: string, body: unknown) =>
    fetch(`${t.url}/users/Users/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });

  test("an admin lists keys with their roles and creates a public key, shown once", async () => {
    await signIn(t.adminKey, "acme");
    await page.getByRole("button", { name: "API keys" }).click();
    await heading("API keys").waitFor();
    const table = page.getByRole("table");
    await table.getByText("backend").waitFor();
    const backendRow = table.locator("tr", { hasText: "backend" });
    expect(await backendRow.locator("td").nth(0).textContent()).toBe("service");
    expect(await backendRow.locator("td").nth(1).textContent()).toBe("acme");
    await screenshot(page, "console-keys-01-list");

    await page.getByLabel("Role").selectOption("public");
    await page.getByLabel("Key namespace").fill("acme");
    await page.getByLabel("Label").fill("storefront");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("heading", { name: /New public key key_[0-9a-f]+: shown only once/ }).waitFor();
    const secret = await page.getByLabel("Secret").inputValue();
    expect(secret).toMatch(/^usk_[A-Za-z0-9_-]{43}$/);
    storefrontKey = secret;
    await table.getByText("storefront").waitFor();
    await screenshot(page, "console-keys-02-created");

    // The new key works as a public key of acme: sign-up yes, Search no.
    expect(
      (await publicCall(secret, "Create", { username: "shopper", email: "s@example.com", password: "correct horse" }))
        .status,
    ).toBe(200);
    const search = await publicCall(secret, "Search", {});
    expect(search.status).toBe(403);
    expect(await search.json()).toMatchObject({ code: 403, status: "Forbidden" });

    // Shown once: leaving the page forgets it.
    await page.getByRole("button", { name: "Back to users" }).click();
    await heading("Users").waitFor();
    await page.getByRole("button", { name: "API keys" }).click();
    await page.getByRole("table").getByText("storefront").waitFor();
    expect(await page.getByLabel("Secret").count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
  });

  test("an invalid namespace is refused in words; revoking asks first and the key stops working", async () => {
    await page.getByLabel("Role").selectOption("service");
    await page.getByLabel("Key namespace").fill("Not Valid!");
    await page.getByRole("button", { name: "Create key" }).click();
    await page
      .getByRole("alert")
      .getByText(/Could not create the key\. A field is not valid: namespace: must be 1 to 63/)
      .waitFor();

    const row = page.getByRole("table").locator("tr", { hasText: "storefront" });
    const id = (await row.locator("th").textContent())!;
    await page.getByRole("button", { name: `Revoke ${id}` }).click();
    await page.getByRole("dialog").getByText(`Revoke ${id}?`).waitFor();
    await screenshot(page, "console-keys-03-revoke-confirm");
    await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
    await page.getByRole("status").getByText(`Key ${id} was revoked.`).waitFor();
    expect(
      await page.getByRole("table").locator("tr", { hasText: "storefront" }).locator("td").nth(4).textContent(),
    ).toBe("revoked");
    const after = await publicCall(storefrontKey, "Login", { username: "shopper", password: "correct horse" });
    expect(after.status).toBe(401);
  });

  test("a service key may not manage keys: told so in words", async () => {
    await signIn(serviceKey, "");
    await page.getByRole("button", { name: "API keys" }).click();
    await heading("API keys").waitFor();
    await page
      .getByRole("alert")
      .getByText(/Could not list the API keys\. This API key is not allowed to do that/)
      .waitFor();
    await screenshot(page, "console-keys-04-service-key");
  });

  test("the page logged no errors and broke no CSP rule", () => {
    const unexpected = pageProblems.filter(
      (text) => !/Failed to load resource: the server responded with a status of (400|403)/.test(text),
    );
    expect(unexpected).toEqual([]);
  });
});
