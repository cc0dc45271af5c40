// Runs the built `users-service` command (bin/users-service.js) as a separate
// process, the way an operator runs it.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { withEncryptionKeys } from "./databases.js";

export const BIN = path.resolve(process.cwd(), "bin/users-service.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: withEncryptionKeys({
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        LOG_LEVEL: "warn",
        ...env,
      }),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** Starts `users-service serve` (logging at info) and resolves once it logs that it is listening. */
export function startCliServer(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve"], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        HOST: "127.0.0.1",
        PORT: "0",
        ...withEncryptionKeys(env),
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    // Never leave a server behind: one that does not come up is killed.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start listening:\n${out}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const match = /"address":"[^"]*:(\d+)"/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), output: () => out });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
}

/**
 * Starts `users-service serve` with its stdout a terminal (a pseudo-terminal
 * from util-linux `script`), as when an operator runs it by hand.
 */
export function startOnTerminal(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const command = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} serve`;
  const child = spawn("script", ["-qefc", command, "/dev/null"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      HOST: "127.0.0.1",
      PORT: "0",
      TERM: "dumb",
      ...withEncryptionKeys(env),
      LOG_LEVEL: "info",
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return Promise.resolve({ child, output: () => out });
}
