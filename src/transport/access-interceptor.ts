// Runs after the auth interceptor: the caller's role must be allowed to call
// this RPC (src/service/access.ts holds the one table), and a public key must
// bring its proof. The proof session id travels in the `x-session-id` header
// (gRPC metadata), the same on every protocol.
import type { Interceptor } from "@connectrpc/connect";
import { type AccessPolicy, SESSION_PROOF_HEADER } from "../service/access.js";
import { callerKey } from "./call-context.js";

export function accessInterceptor(policy: AccessPolicy): Interceptor {
  return (next) => async (req) => {
    const caller = req.contextValues.get(callerKey);
    // The auth interceptor always runs first; reaching here without it is a wiring bug.
    if (!caller) throw new Error("no caller in context: auth interceptor missing");
    const message = req.stream ? {} : (req.message as unknown as Record<string, unknown>);
    await policy.authorize(
      caller,
      req.service.typeName,
      req.method.localName,
      message,
      req.header.get(SESSION_PROOF_HEADER),
    );
    return next(req);
  };
}
