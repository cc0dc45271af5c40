// What the fuzzed server should hold: every user a successful call created,
// renamed, re-passworded or deleted, by namespace (and no password reset or
// magic-link sign-in, which need a mailed secret the fuzzer never sees). A request is read back from
// the exact bytes sent, the way the server decodes them (last duplicate key
// wins, invalid UTF-8 becomes U+FFFD, unknown fields ignored), so the model
// knows the password the server stored even for a mangled request.
import { fromBinary, fromJson, fromJsonString, type JsonObject } from "@bufbuild/protobuf";
import { Users } from "../../../gen/users/v1/users_pb.js";
import type { Method } from "./rpc.js";
import type { Protocol } from "./wire.js";

export interface KnownUser {
  username: string;
  email: string;
  password: string;
}

export class FuzzModel {
  /** namespace -> user id -> user */
  readonly users = new Map<string, Map<string, KnownUser>>();

  namespace(name: string): Map<string, KnownUser> {
    let users = this.users.get(name);
    if (!users) {
      users = new Map();
      this.users.set(name, users);
    }
    return users;
  }

  /** Applies a call the server answered "ok" to; `response` is the response as proto JSON. */
  apply(namespace: string, protocol: Protocol, method: Method, sent: Buffer, response: JsonObject): void {
    // A reset code or a magic link comes only from a mail, which the fuzzer
    // never reads: one that works for it is a hole, not a state change.
    if (method === "resetPassword") throw new Error(`ResetPassword succeeded with a fuzzed code in ${namespace}`);
    if (method === "verifyToken" && response.isValid === true)
      throw new Error(`VerifyToken accepted a fuzzed token in ${namespace}`);
    if (!["create", "update", "delete", "updatePassword", "setPassword"].includes(method)) return;
    const request = decodeSent(protocol, method, sent) as unknown as Record<string, string>;
    const users = this.namespace(namespace);
    const user = response.user as { id: string; username: string; email: string } | undefined;
    if (method === "create")
      users.set(user!.id, { username: user!.username, email: user!.email, password: request.password! });
    if (method === "update") {
      const known = users.get(user!.id);
      if (!known) throw new Error(`Update succeeded for a user the model does not know: ${namespace}/${user!.id}`);
      users.set(user!.id, { ...known, username: user!.username, email: user!.email });
    }
    if (method === "delete") users.delete(request.id!);
    if (method === "setPassword") {
      const known = users.get(request.userId!);
      if (!known)
        throw new Error(`SetPassword succeeded for a user the model does not know: ${namespace}/${request.userId}`);
      known.password = request.newPassword!;
    }
    if (method === "updatePassword") {
      const known = users.get(request.userId!);
      if (!known)
        throw new Error(`UpdatePassword succeeded for a user the model does not know: ${namespace}/${request.userId}`);
      known.password = request.newPassword!;
    }
  }
}

/** The request message as the server decoded the body sent over the protocol. */
export function decodeSent(protocol: Protocol, method: Method, body: Buffer) {
  const schema = Users.method[method].input;
  switch (protocol) {
    case "connect-json":
      return fromJsonString(schema, new TextDecoder().decode(body), { ignoreUnknownFields: true });
    case "m3o": {
      const text = body.toString("utf8").trim();
      return fromJson(schema, text === "" ? {} : JSON.parse(text), { ignoreUnknownFields: true });
    }
    case "connect-binary":
      return fromBinary(schema, body);
    case "grpc":
    case "grpc-web":
      return fromBinary(schema, body.subarray(5, 5 + body.readUInt32BE(1)));
  }
}
