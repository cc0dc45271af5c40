// Errors of the service layer, free of any protocol. The transport maps each
// code to a Connect/gRPC code and an HTTP status in one place
// (src/transport/error-mapping.ts).

export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "unauthenticated"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "unavailable"
  | "deadline_exceeded";

export interface ErrorDetails {
  /** The request field the error is about, when there is one. */
  field?: string;
  /** For resource_exhausted: seconds after which a retry may succeed. */
  retryAfterSeconds?: number;
}

export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = "ServiceError";
  }
}

/** A request field breaks a rule: the message names the field and the rule. */
export function invalidArgument(field: string, rule: string): ServiceError {
  return new ServiceError("invalid_argument", `${field}: ${rule}`, { field });
}

export function notFound(what: string): ServiceError {
  return new ServiceError("not_found", `${what} not found`);
}

export function alreadyExists(field: string): ServiceError {
  return new ServiceError("already_exists", `${field}: already taken in this namespace`, { field });
}

/**
 * The one message for every failed login: an unknown account and a wrong
 * password must be indistinguishable, so nothing here may name which it was.
 */
export function invalidCredentials(): ServiceError {
  return new ServiceError("unauthenticated", "invalid credentials");
}
