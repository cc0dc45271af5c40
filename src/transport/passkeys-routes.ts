// The passkey RPCs of users.v1.Users as Connect handlers (registerUsers puts
// them in the service): protocol-free calls into PasskeysService, results
// converted to the generated messages.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Passkey as PasskeyMessage } from "../../gen/users/v1/passkeys_pb.js";
import type { Session as SessionMessage, Users } from "../../gen/users/v1/users_pb.js";
import type { Session } from "../service/model.js";
import type { PasskeysService } from "../service/passkeys.js";
import type { PasskeyRow } from "../storage/passkey-store.js";
import { actorOf, callerKey } from "./call-context.js";
import { unixSeconds } from "./unix-seconds.js";

type PasskeyHandlers = Pick<
  ServiceImpl<typeof Users>,
  | "beginPasskeyRegistration"
  | "finishPasskeyRegistration"
  | "beginPasskeyLogin"
  | "finishPasskeyLogin"
  | "listPasskeys"
  | "removePasskey"
  | "beginPasskeyMfa"
>;

export function passkeyHandlers(
  passkeys: PasskeysService,
  sessionMessage: (session: Session) => Omit<SessionMessage, "$typeName">,
): PasskeyHandlers {
  return {
    async beginPasskeyRegistration(req, ctx) {
      return { optionsJson: await passkeys.beginRegistration(namespaceOf(ctx), req.userId) };
    },
    async finishPasskeyRegistration(req, ctx) {
      return { passkey: passkeyMessage(await passkeys.finishRegistration(namespaceOf(ctx), req)) };
    },
    async beginPasskeyLogin(_req, ctx) {
      return passkeys.beginLogin(namespaceOf(ctx));
    },
    async finishPasskeyLogin(req, ctx) {
      return { session: sessionMessage(await passkeys.finishLogin(namespaceOf(ctx), req, actorOf(ctx))) };
    },
    async listPasskeys(req, ctx) {
      return { passkeys: (await passkeys.list(namespaceOf(ctx), req.userId)).map(passkeyMessage) };
    },
    async removePasskey(req, ctx) {
      await passkeys.remove(namespaceOf(ctx), req.userId, req.passkeyId);
      return {};
    },
    async beginPasskeyMfa(req, ctx) {
      return { optionsJson: await passkeys.beginSecondFactor(namespaceOf(ctx), req.mfaTicket) };
    },
  };
}

function namespaceOf(ctx: HandlerContext): string {
  const caller = ctx.values.get(callerKey);
  // The auth interceptor always runs first; reaching here without it is a wiring bug.
  if (!caller) throw new Error("no caller in context: auth interceptor missing");
  return caller.namespace;
}

function passkeyMessage(p: PasskeyRow): Omit<PasskeyMessage, "$typeName"> {
  return {
    id: p.id,
    name: p.name,
    created: unixSeconds(p.createdMs),
    lastUsed: unixSeconds(p.lastUsedMs),
    transports: p.transports,
    credentialId: p.credentialId,
  };
}
