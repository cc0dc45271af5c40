// Shared by the second-factor suites: a server on a test clock, users made
// over the wire, and TOTP codes computed here from the secret, as an
// authenticator app would.
import type { JsonObject } from "@bufbuild/protobuf";
import { Secret, TOTP } from "otpauth";
import { type RpcAnswer, rpc } from "../reliability/support/rpc.js";
import { type Protocol, Wire } from "../reliability/support/wire.js";
import { TestClock } from "../support/clock.js";
import type { Engine } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

export const PASSWORD = "correct horse battery";

/** The code an authenticator shows for `secret` (base32) at `atMs`. */
export function codeAt(secret: string, atMs: number): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    timestamp: atMs,
    digits: 6,
    period: 30,
    algorithm: "SHA1",
  });
}

export const STEP_MS = 30_000;

export interface MfaWorld {
  t: TestServer;
  wire: Wire;
  clock: TestClock;
  admin: Record<string, string>;
  /** A new user (username, email and password) and its id. */
  newUser(prefix?: string): Promise<{ id: string; username: string }>;
  /** A user with TOTP confirmed: its secret and recovery codes. The clock then moves one step on. */
  newUserWithTotp(prefix?: string): Promise<{ id: string; username: string; secret: string; recoveryCodes: string[] }>;
  /** Logs in (admin key), expecting an MFA ticket. */
  ticketFor(username: string, protocol?: Protocol): Promise<string>;
  call(
    protocol: Protocol,
    method: Parameters<typeof rpc>[2],
    request: JsonObject,
    headers?: Record<string, string>,
  ): Promise<RpcAnswer>;
  ok(
    protocol: Protocol,
    method: Parameters<typeof rpc>[2],
    request: JsonObject,
    headers?: Record<string, string>,
  ): Promise<RpcAnswer>;
  close(): Promise<void>;
}

export async function startMfaWorld(engine: Engine, env: Record<string, string> = {}): Promise<MfaWorld> {
  const clock = new TestClock();
  const t = await startTestServer({ engine, now: clock.now, env: { TOTP_ISSUER: "Example App", ...env } });
  const wire = new Wire(t.url);
  const admin = { authorization: `Bearer ${t.adminKey}` };
  let n = 0;
  const call: MfaWorld["call"] = (protocol, method, request, headers = admin) =>
    rpc(wire, protocol, method, request, headers);
  const ok: MfaWorld["ok"] = async (protocol, method, request, headers = admin) => {
    const answer = await call(protocol, method, request, headers);
    if (answer.code !== "ok") throw new Error(`${method} over ${protocol}: ${answer.code} ${answer.message}`);
    return answer;
  };
  const world: MfaWorld = {
    t,
    wire,
    clock,
    admin,
    call,
    ok,
    async newUser(prefix = "user") {
      const username = `${prefix}${++n}`;
      const answer = await ok("connect-json", "create", {
        username,
        email: `${username}@example.com`,
        password: PASSWORD,
      });
      return { id: (answer.json!.user as { id: string }).id, username };
    },
    async newUserWithTotp(prefix = "mfa") {
      const user = await world.newUser(prefix);
      const { secret } = (await ok("connect-json", "enrollTotp", { userId: user.id })).json as { secret: string };
      const confirmed = await ok("connect-json", "confirmTotp", { userId: user.id, code: codeAt(secret, clock.now()) });
      clock.advance(30);
      return { ...user, secret, recoveryCodes: confirmed.json!.recoveryCodes as string[] };
    },
    async ticketFor(username, protocol = "connect-json") {
      const answer = await ok(protocol, "login", { username, password: PASSWORD });
      const ticket = answer.json!.mfaTicket;
      if (typeof ticket !== "string") throw new Error(`no mfa ticket: ${JSON.stringify(answer.json)}`);
      return ticket;
    },
    async close() {
      wire.close();
      await t.close();
    },
  };
  return world;
}
