// CreateToken's handler, spread into the Users service's handlers (users-routes.ts).
import type { HandlerContext } from "@connectrpc/connect";
import type { CreateTokenRequest, CreateTokenResponse } from "../../gen/users/v1/tokens_pb.js";
import type { AccessTokensService } from "../service/access-tokens.js";
import { callerKey } from "./call-context.js";
import { unixSeconds } from "./unix-seconds.js";

type Init<T> = Omit<T, "$typeName">;

export function tokenHandlers(accessTokens: AccessTokensService) {
  return {
    async createToken(req: CreateTokenRequest, ctx: HandlerContext): Promise<Init<CreateTokenResponse>> {
      const caller = ctx.values.get(callerKey);
      if (!caller) throw new Error("no caller in context: auth interceptor missing");
      const { token, expiresMs } = await accessTokens.create(caller.namespace, req.sessionId);
      return { accessToken: token, expires: unixSeconds(expiresMs) };
    },
  };
}
