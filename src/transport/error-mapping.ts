// The one place where errors become protocol errors: service and storage
// errors map to Connect codes (which fix the gRPC status and the HTTP status)
// and carry their reason as structured details (google.rpc.ErrorInfo, plus
// BadRequest for a field and RetryInfo for a retry delay), which connect-es
// sends as grpc-status-details-bin on gRPC and gRPC-Web and as `details` in
// Connect JSON. Anything unexpected becomes a bare Internal error whose
// detail goes only to the log.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ERROR_DOMAIN, type ReasonParams } from "../service/error-codes.js";
import { type ErrorCode, ServiceError } from "../service/errors.js";
import { StorageUnavailable, UniqueViolation } from "../storage/repository.js";

type OutgoingDetails = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;

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
  internal: Code.Internal,
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
  if (err instanceof ConnectError) {
    return { error: withReason(err), unexpected: err.code === Code.Internal || err.code === Code.Unknown };
  }
  if (err instanceof ServiceError) return { error: serviceConnectError(err), unexpected: false };
  if (err instanceof StorageUnavailable) {
    return {
      error: serviceConnectError(new ServiceError(err.timedOut ? "DATABASE_TIMEOUT" : "DATABASE_UNAVAILABLE")),
      unexpected: false,
    };
  }
  if (err instanceof UniqueViolation) {
    return { error: serviceConnectError(new ServiceError("ALREADY_TAKEN", { field: err.field })), unexpected: false };
  }
  return { error: serviceConnectError(new ServiceError("INTERNAL")), unexpected: true };
}

function serviceConnectError(err: ServiceError): ConnectError {
  const code = CODES[err.code];
  const headers = new Headers();
  if (err.details.retryAfterSeconds !== undefined) headers.set("retry-after", String(err.details.retryAfterSeconds));
  return new ConnectError(err.message, code, headers, reasonDetails(err.reason, code, err.details));
}

/** A ConnectError raised without a reason (by the library, say) gets its code's name as one. */
function withReason(err: ConnectError): ConnectError {
  if (err.findDetails(ErrorInfoSchema).length === 0)
    err.details.push(...reasonDetails(genericReason(err.code), err.code));
  return err;
}

/** The reason of an error the catalogue has no entry for: its code in upper case ("UNIMPLEMENTED"). */
export function genericReason(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** The details that carry a reason: ErrorInfo always; BadRequest for a field's rule; RetryInfo for a delay. */
export function reasonDetails(reason: string, code: Code, params: ReasonParams = {}): OutgoingDetails {
  const metadata: Record<string, string> = {};
  if (params.field !== undefined) metadata.field = params.field;
  if (params.rule !== undefined) metadata.rule = params.rule;
  if (params.namespace !== undefined) metadata.namespace = params.namespace;
  const details: OutgoingDetails = [{ desc: ErrorInfoSchema, value: { reason, domain: ERROR_DOMAIN, metadata } }];
  if (code === Code.InvalidArgument && params.field !== undefined) {
    const violation = { field: params.field, description: params.rule ?? "", reason };
    details.push({ desc: BadRequestSchema, value: { fieldViolations: [violation] } });
  }
  if (params.retryAfterSeconds !== undefined) {
    details.push({ desc: RetryInfoSchema, value: { retryDelay: { seconds: BigInt(params.retryAfterSeconds) } } });
  }
  return details;
}
