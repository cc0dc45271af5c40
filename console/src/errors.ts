// Errors the service returns, told in words: what could not be done, what
// the code means for the person at the keyboard, and the service's own detail.
import { Code, ConnectError } from "@connectrpc/connect";

const EXPLANATIONS: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: "A field is not valid",
  [Code.NotFound]: "It does not exist (any more)",
  [Code.AlreadyExists]: "That is already taken in this namespace",
  [Code.Unauthenticated]: "The service refused the credentials",
  [Code.PermissionDenied]: "This API key is not allowed to do that",
  [Code.ResourceExhausted]: "Too many attempts, or the service is busy; wait and try again",
  [Code.Aborted]: "Something changed at the same time; try again",
  [Code.Unavailable]: "The service or its database cannot be reached; try again shortly",
  [Code.DeadlineExceeded]: "The service did not answer in time; try again",
  [Code.Internal]: "The service hit an internal error (its log has the details)",
  [Code.Canceled]: "The call was cancelled",
};

/** "Could not <doing>. <explanation>: <service's message>." */
export function describeError(doing: string, err: unknown): string {
  const error = ConnectError.from(err);
  // fetch() failing outright (server down, network) surfaces as Unknown/Unavailable with a TypeError cause.
  if (error.cause instanceof TypeError || /failed to fetch/i.test(error.rawMessage)) {
    return `Could not ${doing}. The service could not be reached: is it running?`;
  }
  const explanation = EXPLANATIONS[error.code] ?? `The service answered "${Code[error.code]}"`;
  const retryAfter = error.metadata.get("retry-after");
  const retry = error.code === Code.ResourceExhausted && retryAfter ? ` (retry after ${retryAfter} s)` : "";
  return `Could not ${doing}. ${explanation}${retry}: ${error.rawMessage}.`;
}
