// Errors of the service layer, free of any protocol. Each names a reason of
// the catalogue (error-codes.ts), which fixes its code and writes its message;
// the transport maps the code to a Connect/gRPC code and an HTTP status and
// sends the reason as a structured detail (src/transport/error-mapping.ts).
import {
  type ErrorCode,
  isReason,
  REASONS,
  type Reason,
  type ReasonParams,
  reasonMessage,
  type ValidationReason,
} from "./error-codes.js";

export type { ErrorCode, Reason, ValidationReason } from "./error-codes.js";

export type ErrorDetails = ReasonParams;

export class ServiceError extends Error {
  readonly code: ErrorCode;
  /** A reason of the catalogue, or (for the generic form) the code in upper case. */
  readonly reason: string;
  readonly details: ErrorDetails;

  constructor(reason: Reason, details?: ErrorDetails);
  /** The generic form, without a reason of the catalogue: prefer naming a reason. */
  constructor(code: ErrorCode, message: string, details?: ErrorDetails);
  constructor(what: Reason | ErrorCode, second?: ErrorDetails | string, third?: ErrorDetails) {
    const details = (typeof second === "string" ? third : second) ?? {};
    const reason = isReason(what) ? what : undefined;
    super(reason ? reasonMessage(reason, details) : String(second));
    this.name = "ServiceError";
    this.code = reason ? REASONS[reason].code : (what as ErrorCode);
    this.reason = reason ?? what.toUpperCase();
    this.details = details;
  }
}

/** A request field breaks a rule: the message names the field and the rule. */
export function invalidArgument(field: string, rule: string, reason: ValidationReason): ServiceError {
  return new ServiceError(reason, { field, rule });
}

/**
 * The one error for every failed login: an unknown account and a wrong
 * password must be indistinguishable, so nothing here may name which it was.
 */
export function invalidCredentials(): ServiceError {
  return new ServiceError("INVALID_CREDENTIALS");
}
