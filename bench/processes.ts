// Starts the servers under test (the service, the floors) and the load
// generators as child processes of the bench, each in its own process.
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MEASURING_MARK } from "./load-spec.js";
import { RssSampler } from "./rss.js";

/** The repository root (dist/bench/ is two levels below it). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Compiled bench scripts live beside this file. */
export const BENCH_DIST = path.dirname(fileURLToPath(import.meta.url));

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly rss: RssSampler;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  name: string;
  /** Node arguments: the script and its own arguments (plus flags such as --cpu-prof). */
  args: string[];
  env: Record<string, string>;
  /** Resolves when the server is ready to take calls. */
  ready: (child: ChildProcess) => Promise<void>;
}

export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, options.args, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    // The service logs a line per call on stdout: it goes to /dev/null, as it
    // would to a log collector, not through a pipe the bench must drain.
    stdio: ["ignore", options.name === "service" ? "ignore" : "pipe", "pipe"],
  });
  let stderr = "";
  let stopping = false;
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const failed = exited.then((code) => {
    throw new Error(`${options.name} exited (${code}) before it was ready:\n${stderr}`);
  });
  await Promise.race([options.ready(child), failed]);
  failed.catch(() => undefined);
  exited.then((code) => {
    if (!stopping) process.stderr.write(`\n${options.name} exited unexpectedly (${code}):\n${stderr}\n`);
  });
  const rss = new RssSampler(child.pid!);
  return {
    name: options.name,
    pid: child.pid!,
    rss,
    async stop() {
      stopping = true;
      rss.stop();
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Ready when the child prints a line "ready" on stdout. */
export function readyLine(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    let seen = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (/^ready$/m.test(seen)) resolve();
    });
  });
}

/** Ready when GET url answers 200 (polled). */
export function readyHttp(url: string, timeoutMs = 60_000): () => Promise<void> {
  return async () => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if ((await fetch(url)).status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
}

/** Runs a node script to completion, writing `input` as JSON to its stdin; returns its stdout parsed as JSON. */
export async function runJson<T>(
  script: string,
  input: unknown,
  extraEnv: Record<string, string> = {},
  onMeasuring?: () => void,
): Promise<T> {
  const child = spawn(process.execPath, [path.join(BENCH_DIST, script)], {
    cwd: ROOT,
    env: { ...process.env, ...extraEnv },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    const mark = `${MEASURING_MARK}\n`;
    if (stdout.startsWith(mark)) {
      stdout = stdout.slice(mark.length);
      onMeasuring?.();
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4000)));
  child.stdin.end(JSON.stringify(input));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`${script} failed (${code}):\n${stderr}`);
  return JSON.parse(stdout) as T;
}
