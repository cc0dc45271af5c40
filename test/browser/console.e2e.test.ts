// The admin console in headless Chromium against the real server: the whole
// flow a newcomer follows (key, search, page, create, edit, password,
// sessions, delete) and the errors shown on the way, with a screenshot of each
// screen under test-results/screenshots/. Every step waits for what it expects
// on the page; nothing waits for a fixed time.

import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startTestServer, type TestServer } from "../support/server.js";
import { adminClient, type UsersClient } from "./support/api.js";
import { launchChromium } from "./support/chromium.js";
import { screenshot } from "./support/screenshots.js";

jest.setTimeout(180_000);

const NAMESPACE = "acme";
const SEEDED = 23; // more than one page of 20

describe("admin console in Chromium", () => {
  let t: TestServer;
  let api: UsersClient;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Console errors and CSP violations seen by the page: there must be none. */
  const pageProblems: string[] = [];
  const aliceSessions: string[] = [];

  beforeAll(async () => {
    t = await startTestServer();
    api = adminClient(t.url, t.adminKey, NAMESPACE);
    for (let i = 1; i <= SEEDED; i++) {
      const n = String(i).padStart(2, "0");
      await api.create({ username: `seed${n}`, email: `seed${n}@example.com`, password: "seed password" });
    }
    await api.create({ username: "alice", email: "alice@example.com", password: "alice password" });
    for (let i = 0; i < 2; i++) {
      const { session } = await api.login({ username: "alice", password: "alice password" });
      aliceSessions.push(session!.id);
    }

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
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

  const alert = () => page.getByRole("alert");
  const status = () => page.getByRole("status");
  const heading = (name: string | RegExp) => page.getByRole("heading", { name, level: 2 });

  test("opens at /console and asks for a key; a wrong key is refused in words", async () => {
    const response = await page.goto(`${t.url}/console`);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/console/");
    await heading("Sign in with an API key").waitFor();
    await screenshot(page, "console-01-sign-in");

    // Keyboard only: the fields are labelled, Enter submits.
    await page.getByLabel("API key", { exact: true }).fill("not-a-real-key");
    await page.getByLabel("Namespace", { exact: true }).fill(NAMESPACE);
    await page.getByLabel("API key", { exact: true }).press("Enter");
    await alert().getByText("Could not open the console with this key. The service refused the credentials").waitFor();
    expect(await alert().textContent()).toContain("a valid API key is required");
    // Focus goes back to the key, ready for another try.
    expect(await page.evaluate("document.activeElement.name")).toBe("api-key");
    await screenshot(page, "console-02-error-wrong-key");
  });

  test("with the right key, lists the namespace's users a page at a time", async () => {
    await page.getByLabel("API key", { exact: true }).fill(t.adminKey);
    await page.getByRole("button", { name: "Open the console" }).click();
    await heading("Users").waitFor();
    await page.getByText(`Namespace: ${NAMESPACE}`).waitFor();
    await page.getByRole("table").getByText("Users 1–20").waitFor();
    expect(await page.getByRole("table").locator("tbody tr").count()).toBe(20);
    await screenshot(page, "console-03-users");

    await page.getByRole("button", { name: "Next page" }).click();
    await page
      .getByRole("table")
      .getByText(`Users 21–${SEEDED + 1}`)
      .waitFor();
    expect(await page.getByRole("button", { name: "Next page" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous page" }).click();
    await page.getByRole("table").getByText("Users 1–20").waitFor();
  });

  test("searches by username and by email prefix", async () => {
    await page.getByLabel("Username starts with", { exact: true }).fill("ALI");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("table").getByText("Users 1–1").waitFor();
    expect(await page.getByRole("table").locator("tbody").textContent()).toContain("alice@example.com");

    await page.getByLabel("Username starts with", { exact: true }).fill("");
    await page.getByLabel("Email starts with", { exact: true }).fill("seed1");
    await page.getByLabel("Email starts with", { exact: true }).press("Enter");
    await page.getByRole("table").getByText("Users 1–10").waitFor(); // seed10..seed19

    await page.getByLabel("Email starts with", { exact: true }).fill("nobody");
    await page.getByLabel("Email starts with", { exact: true }).press("Enter");
    await page.getByText("No users match.").waitFor();
    await screenshot(page, "console-04-search-empty");
  });

  test("creates a user, and shows why a taken username is refused", async () => {
    await page.getByRole("button", { name: "New user" }).click();
    await heading("New user").waitFor();
    await page.getByLabel("Username", { exact: true }).fill("alice");
    await page.getByLabel("Email", { exact: true }).fill("someone@example.com");
    await page.getByLabel("Password", { exact: true }).fill("bob password");
    await page.getByRole("button", { name: "Create user" }).click();
    await alert().getByText("Could not create the user. That is already taken in this namespace").waitFor();
    expect(await alert().textContent()).toContain("username");
    await screenshot(page, "console-05-new-user-error");

    await page.getByLabel("Username", { exact: true }).fill("Bob");
    await page.getByLabel("Email", { exact: true }).fill("bob@example.com");
    await page.getByRole("button", { name: "Create user" }).click();
    await heading("User bob").waitFor();
    await status().getByText("User bob was created.").waitFor();
    await screenshot(page, "console-06-user");

    const { users } = await api.search({ username: "bob" });
    expect(users.map((u) => u.email)).toEqual(["bob@example.com"]);
  });

  test("edits the user's email", async () => {
    const edit = page.getByRole("form", { name: "Edit" });
    await edit.getByLabel("Email", { exact: true }).fill("bob.builder@example.com");
    await edit.getByRole("button", { name: "Save changes" }).click();
    await status().getByText("Saved: bob, bob.builder@example.com.").waitFor();
    await page.locator("dl.details").getByText("bob.builder@example.com").waitFor();

    const { users } = await api.search({ username: "bob" });
    expect(users[0]?.email).toBe("bob.builder@example.com");
  });

  test("deletes the user after a confirmation; Escape cancels", async () => {
    const deleteButton = page.getByRole("button", { name: "Delete user…" });
    await deleteButton.click();
    const dialog = page.getByRole("dialog", { name: "Delete user bob?" });
    await dialog.waitFor();
    // It names the user as edited a moment ago.
    await dialog.getByText("bob (bob.builder@example.com) will be removed").waitFor();
    await screenshot(page, "console-07-delete-confirm");
    // The safe choice has focus; Escape closes and focus returns to the opener.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Delete user…");
    expect((await api.search({ username: "bob" })).users).toHaveLength(1);

    await deleteButton.click();
    await dialog.getByRole("button", { name: "Delete user" }).click();
    await heading("Users").waitFor();
    await status().getByText("User bob was deleted.").waitFor();
    await screenshot(page, "console-08-deleted");

    const err = await api.search({ username: "bob" });
    expect(err.users).toHaveLength(0);
  });

  test("opens a user from the list, sees and revokes sessions", async () => {
    await page.getByLabel("Email starts with", { exact: true }).fill("");
    await page.getByLabel("Username starts with", { exact: true }).fill("alice");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("table").getByText("Users 1–1").waitFor();
    // Keyboard: focus the user's button and press Enter.
    await page.getByRole("button", { name: "alice", exact: true }).focus();
    await page.keyboard.press("Enter");
    await heading("User alice").waitFor();

    const sessions = page.getByRole("region", { name: "Sessions" });
    const rows = sessions.getByRole("listitem");
    await rows.nth(1).waitFor();
    expect(await rows.count()).toBe(2);
    await screenshot(page, "console-09-sessions");

    await rows
      .first()
      .getByRole("button", { name: /^Revoke the session started/ })
      .click();
    await status().getByText("1 session was ended.").waitFor();
    await sessions.getByRole("listitem").nth(1).waitFor({ state: "detached" });
    expect(await sessions.getByRole("listitem").count()).toBe(1);
    // The newest session was listed first: exactly one of the two still reads.
    const alive = await Promise.all(
      aliceSessions.map((id) =>
        api.readSession({ sessionId: id }).then(
          () => true,
          () => false,
        ),
      ),
    );
    expect(alive.filter(Boolean)).toHaveLength(1);

    await sessions.getByRole("button", { name: "Revoke all sessions" }).click();
    await status().getByText("1 session was ended.").waitFor();
    await sessions.getByText("No live sessions.").waitFor();
    for (const id of aliceSessions) {
      const err = await api.readSession({ sessionId: id }).catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.NotFound);
    }
  });

  test("the user's history: last sign-in, failed sign-ins and every change, from ListEvents", async () => {
    const history = page.getByRole("region", { name: "History" });
    await history.getByRole("button", { name: "Refresh" }).click();
    const events = history.getByRole("list", { name: "Events, newest first" });
    // The revocations just made are the newest events; alice's sign-ins and creation are older.
    await events.getByText("session.revoked").first().waitFor();
    await events.getByText("user.created").waitFor();
    expect(await events.getByText("session.created").count()).toBe(2);
    await history.getByText("Last sign-in").waitFor();
    await history.getByText(/^0 of the last \d+ events$/).waitFor();
    await screenshot(page, "console-10-history");
  });

  test("sets a new password, given the current one (and says so)", async () => {
    const form = page.getByRole("form", { name: "Password", exact: true });
    await form.getByText("Changes the password given the current one").waitFor();
    await form.getByLabel("Current password", { exact: true }).fill("wrong password");
    await form.getByLabel("New password", { exact: true }).fill("alice new password");
    await form.getByLabel("New password again", { exact: true }).fill("alice new password");
    await form.getByRole("button", { name: "Set new password" }).click();
    await alert().getByText("Could not set the new password. The service refused the credentials").waitFor();
    await screenshot(page, "console-10-password-error");

    await form.getByLabel("Current password", { exact: true }).fill("alice password");
    await form.getByLabel("New password", { exact: true }).fill("alice new password");
    await form.getByLabel("New password again", { exact: true }).fill("alice new password");
    await form.getByRole("button", { name: "Set new password" }).click();
    await status().getByText("The password of alice was changed").waitFor();
    const { session } = await api.login({ username: "alice", password: "alice new password" });
    expect(session?.userId).toBeTruthy();
  });

  test("keeps the key only in memory: not in the URL or web storage, gone after a reload", async () => {
    expect(page.url()).not.toContain(t.adminKey);
    const stored = await page.evaluate(
      "({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie })",
    );
    expect(stored).toEqual({ local: 0, session: 0, cookie: "" });
    await page.reload();
    await heading("Sign in with an API key").waitFor();
  });

  test("fits a narrow screen", async () => {
    const phone = await context.newPage();
    phone.setDefaultTimeout(60_000);
    try {
      await phone.setViewportSize({ width: 360, height: 740 });
      await phone.goto(`${t.url}/console/`);
      await phone.getByLabel("API key", { exact: true }).fill(t.adminKey);
      await phone.getByLabel("Namespace", { exact: true }).fill(NAMESPACE);
      await phone.getByLabel("Namespace", { exact: true }).press("Enter");
      await phone.getByRole("table").getByText("Users 1–20").waitFor();
      const overflow = await phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth",
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(phone, "console-11-narrow-users");
      await phone.getByLabel("Username starts with", { exact: true }).fill("alice");
      await phone.getByLabel("Username starts with", { exact: true }).press("Enter");
      await phone.getByRole("button", { name: "alice", exact: true }).click();
      await phone.getByRole("heading", { name: "User alice", level: 2 }).waitFor();
      await phone
        .getByRole("region", { name: "Sessions" })
        .getByText(/No live sessions|Started/)
        .first()
        .waitFor();
      await screenshot(phone, "console-12-narrow-user");
    } finally {
      await phone.close();
    }
  });

  test("the page logged no errors and broke no CSP rule", () => {
    // A CSP violation shows as a console error ("Refused to ..."). The only
    // expected errors are the HTTP statuses of the refused calls above.
    const unexpected = pageProblems.filter(
      (text) => !/Failed to load resource: the server responded with a status of (401|409)/.test(text),
    );
    expect(unexpected).toEqual([]);
  });
});
