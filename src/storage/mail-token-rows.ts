// The one-time mail tokens' statements' shared pieces (both engines).
import type { NewMailToken } from "./repository.js";

/** Named parameters of a token upsert. */
export function tokenParams(token: NewMailToken) {
  return {
    namespace: token.namespace,
    purpose: token.purpose,
    email: token.email,
    digest: token.digest,
    created_ms: token.createdMs,
    expires_ms: token.expiresMs,
    redirect_url: token.redirectUrl,
    failure_redirect_url: token.failureRedirectUrl,
  };
}

export interface SpentTokenRecord {
  namespace: string;
  user_id: string;
  email: string;
  redirect_url: string;
}
