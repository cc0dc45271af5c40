// How /console/ is served: only the files the build produced, with correct
// content types and a strict CSP, and nothing reachable by path tricks.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { CONSOLE_CSP, defaultConsoleDir, loadConsoleFiles } from "../../src/transport/console-files.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rawRequest } from "./support/raw-http.js";

describe("the admin console's files", () => {
  let t: TestServer;
  const dir = defaultConsoleDir();

  beforeAll(async () => {
    if (!fs.existsSync(path.join(dir, "index.html")))
      throw new Error(`${dir} is not built: run npm run build (npm test does)`);
    t = await startTestServer();
  });
  afterAll(() => t?.close());

  test("/console redirects to /console/, which is the app's page", async () => {
    const redirect = await rawRequest(t.url, "GET", "/console");
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe("/console/");
    const page = await rawRequest(t.url, "GET", "/console/");
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.body.toString()).toBe(fs.readFileSync(path.join(dir, "index.html"), "utf8"));
  });

  test.each([
    ["index.html", "text/html; charset=utf-8"],
    ["app.js", "text/javascript; charset=utf-8"],
    ["console.css", "text/css; charset=utf-8"],
    ["favicon.svg", "image/svg+xml"],
  ])("%s is served as %s with the security headers", async (name, type) => {
    const res = await rawRequest(t.url, "GET", `/console/${name}`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe(type);
    expect(res.body.equals(fs.readFileSync(path.join(dir, name)))).toBe(true);
    expect(res.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
  });

  test("the CSP allows no inline script or style, no eval and no other origin", () => {
    const directives = new Map(
      CONSOLE_CSP.split(";")
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name!, values]),
    );
    expect(directives.get("default-src")).toEqual(["'none'"]);
    expect(directives.get("script-src")).toEqual(["'self'"]);
    expect(directives.get("style-src")).toEqual(["'self'"]);
    expect(directives.get("connect-src")).toEqual(["'self'"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    expect(directives.get("form-action")).toEqual(["'none'"]);
  });

  test("the page has no inline script or style", () => {
    const html = fs.readFileSync(path.join(dir, "index.html"), "utf8");
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [tag, content] of scripts) {
      expect(tag).toMatch(/\ssrc="/);
      expect(content!.trim()).toBe("");
    }
    expect(html).not.toMatch(/<style\b|\sstyle="|\son[a-z]+="/i);
  });

  test("HEAD, conditional GET and wrong methods", async () => {
    const head = await rawRequest(t.url, "HEAD", "/console/app.js");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    const again = await rawRequest(t.url, "GET", "/console/app.js", { "if-none-match": String(head.headers.etag) });
    expect(again.status).toBe(304);
    const post = await rawRequest(t.url, "POST", "/console/", {}, "x");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
  });

  test.each([
    "/console/../package.json",
    "/console/..%2fpackage.json",
    "/console/%2e%2e/%2e%2e/etc/passwd",
    "/console/..%5c..%5cpackage.json",
    "/console//etc/passwd",
    "/console/./index.html",
    "/console/%69ndex.html",
    "/console/app.js/",
    "/console/.tsbuildinfo",
    "/console/missing.js",
  ])("%s is not found (only the built files' exact names are served)", async (target) => {
    const res = await rawRequest(t.url, "GET", target);
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe("not found");
  });

  test("only regular files of known types at the top of the build folder are loaded", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "console-files-"));
    fs.writeFileSync(path.join(tmp, "index.html"), "<!doctype html>");
    fs.writeFileSync(path.join(tmp, "notes.txt"), "not a console file");
    fs.mkdirSync(path.join(tmp, "sub"));
    fs.writeFileSync(path.join(tmp, "sub", "deep.js"), "");
    fs.symlinkSync("/etc/hostname", path.join(tmp, "linked.html"));
    expect([...loadConsoleFiles(tmp).keys()]).toEqual(["index.html"]);
    expect(loadConsoleFiles(path.join(tmp, "absent")).size).toBe(0);
  });
});
