// Small builders shared by the storage tests.
import { createHash } from "node:crypto";
import { openRepository } from "../../src/storage/open.js";
import type { ApiKeyRecord, NewSession, Repository, User } from "../../src/storage/repository.js";
import { type Engine, freshDatabaseUrl } from "../support/databases.js";

/** A repository on a new, empty database of the engine. */
export async function freshRepository(engine: Engine): Promise<Repository> {
  return openRepository({ databaseUrl: await freshDatabaseUrl(engine), pgPoolSize: 10, pgStatementTimeoutMs: 5000 });
}

let namespaces = 0;
/** A namespace no other test of this file uses, so tests sharing a database stay independent. */
export function freshNamespace(): string {
  return `ns-${++namespaces}`;
}

export function user(id: string, username: string, email: string, createdMs = 1_000): User {
  return { id, username, email, createdMs, updatedMs: createdMs };
}

export function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * The digest of a named session of a namespace. Session digests are unique
 * across all namespaces (the table's key), so tests name them per namespace.
 */
export function sid(namespace: string, name: string): Buffer {
  return digest(`${namespace}/${name}`);
}

export function session(
  namespace: string,
  name: string,
  userId: string,
  createdMs: number,
  expiresMs: number,
): NewSession {
  return { idDigest: sid(namespace, name), userId, createdMs, expiresMs };
}

export function apiKey(id: string, namespace: string | null, createdMs: number): ApiKeyRecord {
  const role = namespace === null ? "admin" : "service";
  return { id, keyDigest: digest(`key:${id}`), namespace, role, label: `label ${id}`, createdMs, revokedMs: null };
}

/** Settles a promise into what it gave, or the error it was rejected with. */
export async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}
