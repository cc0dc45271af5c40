// Shared by the passkey suites: a server with passkeys on for a page origin,
// users with a password session, and calls over the raw wire.
import type { JsonObject } from "@bufbuild/protobuf";
import { type Method, type RpcAnswer, rpc } from "../../reliability/support/rpc.js";
import { type Protocol, Wire } from "../../reliability/support/wire.js";
import type { Engine } from "../../support/databases.js";
import { startTestServer, type TestServer } from "../../support/server.js";

/** The server's clock runs `offsetMs` ahead of real time (tests move it to expire challenges). */
export const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };

export const PASSWORD = "correct horse battery";

export interface PasskeyWorld {
  t: TestServer;
  wire: Wire;
  admin: Record<string, string>;
  /** A public key of the default namespace, and its id (which its calls' events name). */
  publicKey: string;
  publicKeyId: string;
  newUser(): Promise<{ id: string; username: string; session: string }>;
  call(protocol: Protocol, method: Method, request: JsonObject, headers?: Record<string, string>): Promise<RpcAnswer>;
  ok(protocol: Protocol, method: Method, request: JsonObject, headers?: Record<string, string>): Promise<RpcAnswer>;
  /** Headers of the public key, with a session as proof. */
  asUser(session: string): Record<string, string>;
  close(): Promise<void>;
}

let users = 0;

export async function startPasskeyWorld(engine: Engine, env: Record<string, string>): Promise<PasskeyWorld> {
  const t = await startTestServer({ engine, now: clock.now, env });
  const wire = new Wire(t.url);
  const admin = { authorization: `Bearer ${t.adminKey}` };
  const { key: publicKey, id: publicKeyId } = await t.server.keys.create("default", "passkey app", "public");
  const call = (protocol: Protocol, method: Method, request: JsonObject, headers: Record<string, string> = admin) =>
    rpc(wire, protocol, method, request, headers);
  const ok = async (protocol: Protocol, method: Method, request: JsonObject, headers = admin) => {
    const answer = await call(protocol, method, request, headers);
    if (answer.code !== "ok") throw new Error(`${method} over ${protocol}: ${answer.code} ${answer.message}`);
    return answer;
  };
  return {
    t,
    wire,
    admin,
    publicKey,
    publicKeyId,
    call,
    ok,
    asUser: (session) => ({ authorization: `Bearer ${publicKey}`, "x-session-id": session }),
    async newUser() {
      const username = `pkuser${++users}${engine[0]}`;
      const created = await ok("connect-json", "create", {
        username,
        email: `${username}@example.com`,
        password: PASSWORD,
      });
      const id = (created.json!.user as { id: string }).id;
      const login = await ok("connect-json", "login", { username, password: PASSWORD });
      return { id, username, session: (login.json!.session as { id: string }).id };
    },
    async close() {
      wire.close();
      await t.close();
    },
  };
}
