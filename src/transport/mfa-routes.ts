// The second-factor RPCs of users.v1.Users as Connect handlers (docs/mfa.md):
// merged into the Users service by users-routes.ts.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Users } from "../../gen/users/v1/users_pb.js";
import type { MfaService } from "../service/mfa.js";
import type { Caller, Session } from "../service/model.js";
import { actorOf, callerKey } from "./call-context.js";

type MfaMethods =
  | "enrollTotp"
  | "confirmTotp"
  | "verifyMfa"
  | "disableTotp"
  | "regenerateRecoveryCodes"
  | "getMfaStatus";

export function mfaHandlers(
  mfa: MfaService,
  sessionMessage: (session: Session) => object,
): Pick<ServiceImpl<typeof Users>, MfaMethods> {
  return {
    async enrollTotp(req, ctx) {
      return mfa.enrollTotp(callerOf(ctx).namespace, req.userId);
    },
    async confirmTotp(req, ctx) {
      return { recoveryCodes: await mfa.confirmTotp(callerOf(ctx).namespace, req.userId, req.code, actorOf(ctx)) };
    },
    async verifyMfa(req, ctx) {
      return { session: sessionMessage(await mfa.verify(callerOf(ctx).namespace, req, actorOf(ctx))) };
    },
    async disableTotp(req, ctx) {
      await mfa.disableTotp(callerOf(ctx), req.userId, req, actorOf(ctx));
      return {};
    },
    async regenerateRecoveryCodes(req, ctx) {
      return {
        recoveryCodes: await mfa.regenerateRecoveryCodes(callerOf(ctx).namespace, req.userId, req.code, actorOf(ctx)),
      };
    },
    async getMfaStatus(req, ctx) {
      return mfa.status(callerOf(ctx).namespace, req.userId);
    },
  };
}

function callerOf(ctx: HandlerContext): Caller {
  const caller = ctx.values.get(callerKey);
  // The auth interceptor always runs first; reaching here without it is a wiring bug.
  if (!caller) throw new Error("no caller in context: auth interceptor missing");
  return caller;
}
