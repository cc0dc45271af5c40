// The service's own view of its data. Times are unix milliseconds inside the
// service; the contract exposes unix seconds.

/** A user as stored and as returned: one shape from the database to the wire. */
export type { User } from "../storage/repository.js";

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
  /** The key's role; what it may call is decided in access.ts. */
  role: "admin" | "service" | "public";
}
