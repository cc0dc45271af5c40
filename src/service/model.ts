// The service's own view of its data. Times are unix milliseconds inside the
// service; the contract exposes unix seconds.

export interface User {
  id: string;
  username: string;
  email: string;
  createdMs: number;
  updatedMs: number;
  /** When the email was verified; absent if it is not. */
  verifiedMs?: number;
}

export interface Session {
  /** The bearer secret. Known only when just created or when given by the caller. */
  id: string;
  userId: string;
  username: string;
  email: string;
  createdMs: number;
  expiresMs: number;
}

/** Who is calling: resolved from the API key and the namespace header. */
export interface Caller {
  namespace: string;
  keyId: string;
  admin: boolean;
}
