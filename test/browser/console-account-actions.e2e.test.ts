// The user page's account actions in headless Chromium against the real
// server, each checked through the API: the verified and disabled badges,
// disable / enable (confirmed), sign out everywhere, an admin setting a
// password, a password reset mail (read from the file mailbox) and the
// profile's entries added, changed and removed; an error is shown in words.

import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import type { Browser, Page } from "playwright-core";
import { mailFolder } from "../../src/mail/delivery.js";
import { mailTo } from "../support/file-mailbox.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { adminClient, type UsersClient } from "./support/api.js";
import { launchChromium } from "./support/chromium.js";
import { screenshot } from "./support/screenshots.js";

jest.setTimeout(180_000);

describe("account actions in the console, in Chromium", () => {
  let t: TestServer;
  let api: UsersClient;
  let browser: Browser;
  let page: Page;
  let erinId: string;
  const pageProblems: string[] = [];

  beforeAll(async () => {
    t = await startTestServer();
    api = adminClient(t.url, t.adminKey);
    const { user } = await api.create({
      username: "erin",
      email: "erin@example.com",
      password: "erin password",
      profile: { team: "blue" },
    });
    erinId = user!.id;
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

  const region = (name: string) => page.getByRole("region", { name, exact: true });
  const status = (text: string) => page.getByRole("status").getByText(text).waitFor();
  const openErin = async () => {
    await page.getByRole("table").getByRole("button", { name: "erin" }).click();
    await page.getByRole("heading", { name: "User erin", level: 2 }).waitFor();
  };
  const readErin = async () => (await api.read({ id: erinId })).user!;
  const sessionGone = async (id: string) => {
    const err = await api.readSession({ sessionId: id }).catch((e: unknown) => ConnectError.from(e));
    return err instanceof ConnectError;
  };

  test("badges: not verified and enabled at first", async () => {
    await openErin();
    await page.locator(".badges").getByText("Not verified").waitFor();
    expect(await page.locator(".badges .badge").allTextContents()).toEqual(["Not verified"]);
    await screenshot(page, "console-account-01-badges");
  });

  test("disable (after cancelling once) and enable again, with the sessions ended", async () => {
    const { session } = await api.login({ username: "erin", password: "erin password" });
    const panel = region("Account status");
    await panel.getByRole("button", { name: "Disable user…" }).click();
    await page.getByRole("dialog", { name: "Disable user erin?" }).getByRole("button", { name: "Cancel" }).click();
    expect((await readErin()).disabled).toBe(false);

    await panel.getByRole("button", { name: "Disable user…" }).click();
    await page
      .getByRole("dialog", { name: "Disable user erin?" })
      .getByRole("button", { name: "Disable user" })
      .click();
    await status("User erin was disabled; their sessions were ended.");
    await page.locator(".badges").getByText("Disabled").waitFor();
    await screenshot(page, "console-account-02-disabled");
    expect((await readErin()).disabled).toBe(true);
    expect(await sessionGone(session!.id)).toBe(true);
    const refused = await api
      .login({ username: "erin", password: "erin password" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(refused).toBeInstanceOf(ConnectError);

    await panel.getByRole("button", { name: "Enable user…" }).click();
    await page.getByRole("dialog", { name: "Enable user erin?" }).getByRole("button", { name: "Enable user" }).click();
    await status("User erin was enabled.");
    await panel.getByRole("button", { name: "Disable user…" }).waitFor();
    expect(await page.locator(".badges .badge").allTextContents()).toEqual(["Not verified"]);
    expect((await readErin()).disabled).toBe(false);
  });

  test("sign out everywhere ends the old sessions and refreshes the sessions panel", async () => {
    const a = await api.login({ username: "erin", password: "erin password" });
    const b = await api.login({ username: "erin", password: "erin password" });
    await region("Sessions").getByRole("button", { name: "Refresh" }).click();
    await region("Sessions").getByRole("button", { name: "Revoke all sessions" }).waitFor();
    await region("Sign out everywhere").getByRole("button", { name: "Sign out everywhere…" }).click();
    await page
      .getByRole("dialog", { name: "Sign erin out everywhere?" })
      .getByRole("button", { name: "Sign out everywhere" })
      .click();
    await status("erin was signed out everywhere: 2 sessions ended.");
    await region("Sessions").getByText("No live sessions.").waitFor();
    expect(await sessionGone(a.session!.id)).toBe(true);
    expect(await sessionGone(b.session!.id)).toBe(true);
  });

  test("an admin sets a password without the old one; a short one is refused in words", async () => {
    const { session } = await api.login({ username: "erin", password: "erin password" });
    const form = page.getByRole("form", { name: "Set password (admin)" });
    await form.getByLabel("New password", { exact: true }).fill("short");
    await form.getByLabel("New password again").fill("short");
    await form.getByRole("button", { name: "Set password" }).click();
    const alert = page.getByRole("alert");
    await alert.locator("p").waitFor();
    expect(await alert.textContent()).toMatch(/set the password/i);
    // The refusal is an answer the page expected: Chromium logs its 400, nothing else.
    expect(pageProblems.splice(0)).toEqual([
      "Failed to load resource: the server responded with a status of 400 (Bad Request)",
    ]);
    expect((await api.login({ username: "erin", password: "erin password" })).session?.username).toBe("erin");

    await form.getByLabel("New password", { exact: true }).fill("erin new password");
    await form.getByLabel("New password again").fill("erin new password");
    await form.getByRole("button", { name: "Set password" }).click();
    await status("The password of erin was set; their sessions were ended.");
    await screenshot(page, "console-account-03-password-set");
    expect(await sessionGone(session!.id)).toBe(true);
    const login = await api.login({ username: "erin", password: "erin new password" });
    expect(login.session?.username).toBe("erin");
    const old = await api
      .login({ username: "erin", password: "erin password" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(old).toBeInstanceOf(ConnectError);
    expect((old as ConnectError).code).not.toBe(Code.Internal);
  });

  test("send a password reset email: the code arrives and works, and erin shows verified", async () => {
    await region("Password reset email").getByRole("button", { name: "Send password reset email" }).click();
    await status("A password reset email was sent to erin@example.com.");
    const code = /^([0-9A-Z]{10})$/m.exec(await mailTo(mailFolder(t.config), "erin@example.com"))![1]!;
    await api.resetPassword({
      email: "erin@example.com",
      code,
      newPassword: "erin reset password",
      confirmPassword: "erin reset password",
    });
    expect((await api.login({ username: "erin", password: "erin reset password" })).session?.username).toBe("erin");
    const erin = await readErin();
    expect(erin.verified).toBe(true);

    await page.getByRole("button", { name: "← Back to users" }).click();
    await openErin();
    await page.locator(".badges").getByText("Verified").waitFor();
    const badge = page.locator(".badges .badge.ok time");
    expect(await badge.getAttribute("datetime")).toBe(new Date(Number(erin.verificationDate) * 1000).toISOString());
    await screenshot(page, "console-account-04-verified");
  });

  test("profile: list, add, change and remove entries", async () => {
    const panel = region("Profile");
    await panel.getByText("blue").waitFor();
    await panel.getByLabel("Key").fill("city");
    await panel.getByLabel("Value").fill("Lyon");
    await panel.getByRole("button", { name: "Save entry" }).click();
    await status('Profile entry "city" was saved.');
    expect((await readErin()).profile).toEqual({ team: "blue", city: "Lyon" });

    await panel.getByLabel("Key").fill("team");
    await panel.getByLabel("Value").fill("red");
    await panel.getByRole("button", { name: "Save entry" }).click();
    await status('Profile entry "team" was saved.');
    await panel.getByText("red").waitFor();
    expect((await readErin()).profile).toEqual({ team: "red", city: "Lyon" });
    await screenshot(page, "console-account-05-profile");

    await panel.getByRole("button", { name: "Remove profile entry city" }).click();
    await status('Profile entry "city" was removed.');
    await expect(panel.getByRole("button", { name: "Remove profile entry city" }).count()).resolves.toBe(0);
    expect((await readErin()).profile).toEqual({ team: "red" });
    expect(pageProblems).toEqual([]);
  });
});
