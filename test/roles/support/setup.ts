// A server with keys of every role for namespace "alpha", users with live
// sessions, and calls made as one role over one protocol.
import type { JsonObject } from "@bufbuild/protobuf";
import { KeysService } from "../../../gen/users/v1/keys_pb.js";
import { Users } from "../../../gen/users/v1/users_pb.js";
import { WebhooksService } from "../../../gen/users/v1/webhooks_pb.js";
import type { Engine } from "../../support/databases.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import { type Answer, Callers, type Protocol } from "./callers.js";

export const SERVICES = [Users, KeysService, WebhooksService] as const;

export interface RolesWorld {
  t: TestServer;
  callers: Callers;
  keys: { admin: string; service: string; public: string; publicBeta: string };
  /** Calls a Users RPC with the admin key in a namespace; throws unless it succeeds. */
  admin(method: keyof typeof Users.method, request: JsonObject, namespace?: string): Promise<JsonObject>;
  /** A user in the namespace with one live session. */
  userWithSession(username: string, namespace?: string): Promise<{ id: string; session: string }>;
  close(): Promise<void>;
}

export const PASSWORD = "correct horse battery";

export async function startRolesWorld(
  engine: Engine,
  env: Record<string, string> = {},
  now?: () => number,
): Promise<RolesWorld> {
  const t = await startTestServer({
    engine,
    env: { PUBLIC_SIGNUPS_PER_KEY: "1000000", PUBLIC_SIGNUPS_PER_NAMESPACE: "1000000", ...env },
    ...(now ? { now } : {}),
  });
  const callers = new Callers(t.url);
  const keys = {
    admin: t.adminKey,
    service: (await t.server.keys.create("alpha", "service", "service")).key,
    public: (await t.server.keys.create("alpha", "public", "public")).key,
    publicBeta: (await t.server.keys.create("beta", "public beta", "public")).key,
  };
  const admin = async (method: keyof typeof Users.method, request: JsonObject, namespace = "alpha") => {
    const answer: Answer = await callers.call("connect-json", Users, Users.method[method], request, {
      authorization: `Bearer ${keys.admin}`,
      "micro-namespace": namespace,
    });
    if (answer.code !== "ok") throw new Error(`admin ${method} failed: ${answer.code}`);
    return answer.json!;
  };
  return {
    t,
    callers,
    keys,
    admin,
    async userWithSession(username, namespace = "alpha") {
      const created = await admin(
        "create",
        { username, email: `${username}@example.com`, password: PASSWORD },
        namespace,
      );
      const login = await admin("login", { username, password: PASSWORD }, namespace);
      return {
        id: (created.user as JsonObject).id as string,
        session: (login.session as JsonObject).id as string,
      };
    },
    async close() {
      callers.close();
      await t.close();
    },
  };
}

/** Headers of a call made with `key` in `namespace`, with an optional proof session. */
export function headersOf(key: string, namespace: string | undefined, proof?: string): Record<string, string> {
  return {
    authorization: `Bearer ${key}`,
    ...(namespace === undefined ? {} : { "micro-namespace": namespace }),
    ...(proof === undefined ? {} : { "x-session-id": proof }),
  };
}

export type { Protocol };
