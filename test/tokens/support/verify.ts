// Runs test/tokens/support/verifier.mjs in a separate process: tokens checked
// by another program with only the service's published keys.
import { spawn } from "node:child_process";
import path from "node:path";

export type Verified =
  | { ok: true; header: Record<string, unknown>; payload: Record<string, unknown> }
  | { ok: false; code: string; message: string };

const SCRIPT = path.resolve(process.cwd(), "test/tokens/support/verifier.mjs");

export function verifyElsewhere(request: {
  jwksUrl: string;
  issuer: string;
  tokens: string[];
  currentDate?: number;
}): Promise<Verified[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`verifier exited with ${code}: ${err}`));
      resolve(JSON.parse(out) as Verified[]);
    });
    child.stdin.end(JSON.stringify(request));
  });
}
