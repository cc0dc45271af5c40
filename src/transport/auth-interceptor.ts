// Every Users and KeysService call needs an API key (`authorization: Bearer
// <key>`) and runs in one namespace: the `micro-namespace` header, or the
// key's own namespace (an admin key's default is "default"). A service or
// public key used for another namespace is refused; what each role may call
// is checked next (access-interceptor.ts).
import type { Interceptor } from "@connectrpc/connect";
import { ServiceError } from "../service/errors.js";
import type { KeysService } from "../service/keys.js";
import type { Caller } from "../service/model.js";
import * as rules from "../service/validation.js";
import type { ApiKeyRow } from "../storage/repository.js";
import { callerKey } from "./call-context.js";
import { authenticatedKey, bearerToken, keyCheckFailure } from "./early-auth.js";

export const DEFAULT_NAMESPACE = "default";

export function authInterceptor(keys: KeysService): Interceptor {
  return (next) => async (req) => {
    // The check before the body failed: the body was never read, so the call cannot go on.
    const failure = req.contextValues.get(keyCheckFailure);
    if (failure !== undefined) throw failure;
    req.contextValues.set(callerKey, await resolveCaller(keys, req.header, req.contextValues.get(authenticatedKey)));
    return next(req);
  };
}

/** `known`: what the check of these headers before the body found (early-auth.ts); undefined to check here. */
export async function resolveCaller(keys: KeysService, header: Headers, known?: ApiKeyRow | null): Promise<Caller> {
  let key = known;
  if (key === undefined) {
    const token = bearerToken(header.get("authorization"));
    key = token === undefined ? undefined : await keys.authenticate(token);
  }
  if (!key) {
    throw new ServiceError("API_KEY_INVALID");
  }
  const requested = header.get("micro-namespace");
  const namespace =
    requested === null || requested === "" ? (key.namespace ?? DEFAULT_NAMESPACE) : rules.namespace(requested.trim());
  if (key.namespace !== null && key.namespace !== namespace) {
    throw new ServiceError("NAMESPACE_FORBIDDEN", { namespace: key.namespace });
  }
  return { namespace, keyId: key.id, admin: key.role === "admin", role: key.role };
}
