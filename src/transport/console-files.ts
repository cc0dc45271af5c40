// Serves the admin console (the single-page app under console/, bundled by
// `npm run build` into dist/console/) at /console/.
//
// Security choices:
// - Only the files the build produced are served: they are read into memory
//   once, and a request is looked up by its exact name in that table. No path
//   from a request ever reaches the file system, so there is nothing to
//   traverse ("..", encoded or not, simply matches no name).
// - A strict Content-Security-Policy: scripts, styles and images only from
//   this origin (no inline script or style, no eval), calls only to this
//   origin, Trusted Types required (the app never turns strings into HTML), no
//   framing, no form posts anywhere (so a form can never put the API key in a
//   URL even if the script failed to load).
// - The console calls the API on its own origin, so it needs no CORS.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Route } from "./http-handler.js";
import type { RequestHandler } from "./listener.js";

export const CONSOLE_PATH = "/console/";

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  // Always revalidate (cheap, with the ETag): a new build shows at once.
  "cache-control": "no-cache",
};

interface ConsoleFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** The /console/ route: the built files, or a plain explanation when the console was not built. */
export function consoleRoute(dir: string = defaultConsoleDir()): Route {
  return { path: CONSOLE_PATH, handle: serveConsole(loadConsoleFiles(dir)) };
}

/** Reads every servable file of the build output into a table keyed by its name ("index.html", "app.js"). */
export function loadConsoleFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return files;
  }
  for (const entry of entries) {
    // Flat output, regular files only (never a symlink), of a known type.
    const contentType = CONTENT_TYPES[path.extname(entry.name)];
    if (!entry.isFile() || contentType === undefined) continue;
    const body = fs.readFileSync(path.join(dir, entry.name));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    files.set(entry.name, { body, contentType, etag });
  }
  return files;
}

export function serveConsole(files: Map<string, ConsoleFile>): RequestHandler {
  return (req, res) => {
    const [pathname = "/", query] = (req.url ?? "/").split("?", 2);
    if (pathname === CONSOLE_PATH.slice(0, -1)) {
      // "/console" -> "/console/", so the page's relative URLs resolve under it.
      res.writeHead(308, { location: CONSOLE_PATH + (query === undefined ? "" : `?${query}`), "content-length": "0" });
      return void res.end();
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return sendText(res, 405, "use GET", { allow: "GET, HEAD" });
    }
    const name = pathname.slice(CONSOLE_PATH.length) || "index.html";
    const file = files.get(name);
    if (!file) {
      return files.size === 0
        ? sendText(res, 404, "the admin console is not built: run npm run build")
        : sendText(res, 404, "not found");
    }
    const headers = { ...SECURITY_HEADERS, "content-type": file.contentType, etag: file.etag };
    if (req.headers["if-none-match"] === file.etag) {
      res.writeHead(304, headers);
      return void res.end();
    }
    res.writeHead(200, { ...headers, "content-length": String(file.body.length) });
    if (req.method === "HEAD") res.end();
    else res.end(file.body);
  };
}

function sendText(
  res: Parameters<RequestHandler>[1],
  status: number,
  text: string,
  extra: Record<string, string> = {},
) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...extra,
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** dist/console/ of this package, found by walking up from this file (it sits at another depth in src/ and dist/). */
export function defaultConsoleDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json"))) return path.join(dir, "dist", "console");
    const parent = path.dirname(dir);
    if (parent === dir) return path.join(process.cwd(), "dist", "console");
    dir = parent;
  }
}
