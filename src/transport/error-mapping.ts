// The one place where errors become protocol errors: service and storage
// errors map to Connect codes (which fix the gRPC status and the HTTP status),
// and anything unexpected becomes a bare Internal error whose detail goes only
// to the log.
import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorCode, ServiceError } from "../service/errors.js";
import { StorageUnavailable, UniqueViolation } from "../storage/repository.js";

const CODES: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
};

/** HTTP statuses for each code, as the Connect protocol defines them. */
export const HTTP_STATUS: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

export interface MappedError {
  error: ConnectError;
  /** True when the cause was unexpected: log it in full, send nothing of it. */
  unexpected: boolean;
}

export function toConnectError(err: unknown): MappedError {
  if (err instanceof ConnectError)
    return { error: err, unexpected: err.code === Code.Internal || err.code === Code.Unknown };
  if (err instanceof ServiceError) {
    const headers = new Headers();
    if (err.details.retryAfterSeconds !== undefined) headers.set("retry-after", String(err.details.retryAfterSeconds));
    return { error: new ConnectError(err.message, CODES[err.code], headers), unexpected: false };
  }
  if (err instanceof StorageUnavailable) {
    return err.timedOut
      ? {
          error: new ConnectError("the database did not answer in time; retry", Code.DeadlineExceeded),
          unexpected: false,
        }
      : { error: new ConnectError("the database is unavailable; retry shortly", Code.Unavailable), unexpected: false };
  }
  if (err instanceof UniqueViolation) {
    return {
      error: new ConnectError(`${err.field}: already taken in this namespace`, Code.AlreadyExists),
      unexpected: false,
    };
  }
  return { error: new ConnectError("internal error", Code.Internal), unexpected: true };
}
