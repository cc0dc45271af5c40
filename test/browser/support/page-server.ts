// A second HTTP server, on its own port (so another origin), serving a test
// page whose script is bundled by esbuild from test/browser/page/main.ts.
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export interface PageServer {
  /** The page's origin, e.g. http://127.0.0.1:40123 */
  origin: string;
  close(): Promise<void>;
}

const ENTRY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../page/main.ts");

const INDEX = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another origin</title>
<script type="module" src="/page.js"></script></head>
<body><h1>A web app on another origin</h1></body></html>`;

let bundle: Promise<string> | undefined;

/** The page script, bundled once per test file. */
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

export async function startPageServer(): Promise<PageServer> {
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
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
