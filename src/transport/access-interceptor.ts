// Runs after the auth interceptor: the caller's role must be allowed to call
// this RPC (src/service/access.ts holds the one table), and a public key must
// bring its proof. The proof session id travels in the `x-session-id` header
// (gRPC metadata), the same on every protocol. The call's actor (the key, the
// proven session's handle, the request id) goes into its context (actorKey),
// and the handlers pass it to the services: every event the call writes names
// it (src/service/events.ts).
import type { Interceptor } from "@connectrpc/connect";
import { ACCESS, type AccessPolicy, SESSION_PROOF_HEADER } from "../service/access.js";
import { digest } from "../service/tokens.js";
import { actorKey, callerKey, requestIdKey } from "./call-context.js";

export function accessInterceptor(policy: AccessPolicy): Interceptor {
  return (next) => async (req) => {
    const caller = req.contextValues.get(callerKey);
    // The auth interceptor always runs first; reaching here without it is a wiring bug.
    if (!caller) throw new Error("no caller in context: auth interceptor missing");
    const message = req.stream ? {} : (req.message as unknown as Record<string, unknown>);
    const proof = req.header.get(SESSION_PROOF_HEADER);
    await policy.authorize(caller, req.service.typeName, req.method.localName, message, proof);
    // Only a session the policy checked names the actor: any other header is just what the caller claimed.
    const proven =
      caller.role === "public" &&
      typeof ACCESS.get(req.service.typeName)?.[req.method.localName]?.publicProof === "object";
    req.contextValues.set(actorKey, {
      keyId: caller.keyId,
      session: proven && proof ? digest(proof.trim()).toString("hex") : "",
      requestId: req.contextValues.get(requestIdKey),
    });
    return next(req);
  };
}
