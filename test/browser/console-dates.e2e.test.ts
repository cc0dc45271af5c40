// Timestamps the console cannot show as dates: an imported account may carry
// any int64 (a far-future `created`, say), and a JavaScript Date past
// ±8.64e15 ms throws on toISOString. The users list, the user page and its
// sessions must still render, showing such a value as the number it is.
// console/src/dates.ts in Node, then the whole console in headless Chromium.
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import bcrypt from "bcrypt";
import type { Browser, Page } from "playwright-core";
import { unixSecondsLabel } from "../../console/src/dates.js";
import { NO_ACTOR } from "../../src/service/events.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { launchChromium } from "./support/chromium.js";
import { screenshot } from "./support/screenshots.js";

jest.setTimeout(120_000);

/** Past the last date JavaScript can represent (8.64e15 ms), yet a safe integer of milliseconds. */
const FAR_FUTURE_MS = 9_000_000_000_000_000;

describe("unixSecondsLabel", () => {
  test("an ordinary time is an ISO date and locale text", () => {
    expect(unixSecondsLabel(1_700_000_000n)).toEqual({
      iso: "2023-11-14T22:13:20.000Z",
      text: new Date(1_700_000_000_000).toLocaleString(),
    });
  });

  test.each([9_000_000_000_000n, -9_000_000_000_000n, 2n ** 63n - 1n])("%s seconds is shown as the number", (s) => {
    expect(unixSecondsLabel(s)).toEqual({ iso: undefined, text: `${s} (unix seconds, not a date)` });
  });
});

describe("the console with a far-future imported account, in Chromium", () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  const pageProblems: string[] = [];

  beforeAll(async () => {
    t = await startTestServer();
    const passwordHash = await bcrypt.hash("far password", 4);
    await t.server.repo.importUsers([
      {
        namespace: "default",
        user: {
          id: "far",
          username: "far",
          email: "far@example.com",
          createdMs: FAR_FUTURE_MS,
          updatedMs: FAR_FUTURE_MS,
        },
        passwordHash,
      },
    ]);
    // A session too, so the sessions panel renders its times.
    await t.server.sessions.login("default", { username: "far", email: "", password: "far password" }, NO_ACTOR);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1024, height: 800 } })).newPage();
    page.setDefaultTimeout(60_000);
    page.on("console", (message) => {
      if (message.type() === "error") pageProblems.push(message.text());
    });
    page.on("pageerror", (error) => pageProblems.push(String(error)));
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  test("the users list and the user page render, with the raw seconds in words", async () => {
    await page.goto(`${t.url}/console`);
    await page.getByLabel("API key", { exact: true }).fill(t.adminKey);
    await page.getByRole("button", { name: "Open the console" }).click();
    const row = page.getByRole("table").locator("tbody tr", { hasText: "far@example.com" });
    await row.getByText("(unix seconds, not a date)").waitFor();

    await row.getByRole("button", { name: "far" }).click();
    await page.getByRole("heading", { name: "User far", level: 2 }).waitFor();
    await page
      .getByText(`${Math.floor(FAR_FUTURE_MS / 1000)} (unix seconds, not a date)`)
      .first()
      .waitFor();
    await page.getByRole("button", { name: /^Revoke the session started/ }).waitFor();
    await screenshot(page, "console-far-future-user");
    expect(pageProblems).toEqual([]);
  });
});
