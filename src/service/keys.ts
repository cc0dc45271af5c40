// API keys: who may call the service, for which namespace, in which role.
//
// A key is a 256-bit random secret shown once at creation and stored only as
// its SHA-256. An admin key works in every namespace; a service or public key
// in its own namespace only (what each role may call: access.ts). Lookups of recently seen keys are cached for a few seconds so a
// busy replica does not ask the database on every call; revoking a key takes
// effect at once on the replica that revoked it and within the cache time on
// the others.
import { randomBytes } from "node:crypto";
import type { ApiKeyRecord, ApiKeyRow, KeyRole, Repository } from "../storage/repository.js";
import { invalidArgument, ServiceError } from "./errors.js";
import { type Actor, draftEvent, NO_ACTOR } from "./events.js";
import { digest, newToken } from "./tokens.js";
import * as rules from "./validation.js";

/** Recognisable prefix, so secret scanners and people can tell what leaked. */
export const KEY_PREFIX = "usk_";
const MAX_KEY_LENGTH = 256;
const CACHE_MAX_ENTRIES = 10_000;

export interface KeysDeps {
  repo: Repository;
  now: () => number;
  cacheSeconds: number;
}

export const KEY_ROLES: readonly KeyRole[] = ["admin", "service", "public"];

export interface CreatedKey {
  id: string;
  /** The secret itself. Returned once; only its digest is kept. */
  key: string;
  namespace: string | null;
  role: KeyRole;
  label: string;
  createdMs: number;
}

/** Checks a role and namespace pair; returns the role. */
export function keyScope(role: unknown, namespace: string | null, fieldPrefix = ""): KeyRole {
  if (role !== "admin" && role !== "service" && role !== "public") {
    throw invalidArgument(`${fieldPrefix}role`, 'must be one of "admin", "service", "public"', "FIELD_MALFORMED");
  }
  if (role === "admin" && namespace !== null) {
    throw invalidArgument(`${fieldPrefix}namespace`, "must be empty for an admin key", "FIELD_MALFORMED");
  }
  if (role !== "admin" && namespace === null) {
    throw invalidArgument(`${fieldPrefix}namespace`, `is required for a ${role} key`, "FIELD_REQUIRED");
  }
  return role;
}

/** Labels are shown in terminals and pages: printable text only. */
function checkLabel(label: string, field = "label"): string {
  if (label.length > 200) throw invalidArgument(field, "must be at most 200 characters", "FIELD_TOO_LONG");
  if (/[\p{Cc}\p{Cf}]/u.test(label))
    throw invalidArgument(field, "must not contain control or format characters", "FIELD_MALFORMED");
  return label;
}

export class KeysService {
  /** Live keys recently looked up, by the key itself (see authenticate). */
  private readonly cache = new Map<string, { row: ApiKeyRow; until: number }>();
  /** Moves on at each revocation, so a lookup begun before it is not cached after it. */
  private generation = 0;

  constructor(private readonly deps: KeysDeps) {}

  /**
   * Creates a key: an admin key when namespace is null, else a service key
   * for the namespace, or a key of the given role. `actor`: the CreateKey
   * call's; keys made outside a call (the command, the first start) have none.
   */
  async create(
    namespace: string | null,
    label = "",
    role: KeyRole = namespace === null ? "admin" : "service",
    actor: Actor = NO_ACTOR,
  ): Promise<CreatedKey> {
    if (namespace !== null) rules.namespace(namespace, "namespace");
    keyScope(role, namespace);
    checkLabel(label);
    const key = KEY_PREFIX + newToken();
    const id = `key_${randomBytes(8).toString("hex")}`;
    const createdMs = this.deps.now();
    await this.deps.repo.insertApiKey(
      { id, keyDigest: digest(key), namespace, role, label, createdMs, revokedMs: null },
      // An admin key belongs to no namespace: its events have none.
      [draftEvent(actor, "key.created", namespace ?? "", "", createdMs, { key_id: id, role, label })],
    );
    return { id, key, namespace, role, label, createdMs };
  }

  /** Registers a key chosen by the operator (USERS_BOOTSTRAP_KEY) as an admin key, once. */
  async register(key: string, label: string): Promise<void> {
    const keyDigest = digest(key);
    if (await this.deps.repo.findApiKey(keyDigest)) return;
    await this.deps.repo.importApiKeys([
      {
        // Derived from the digest, so replicas registering the same key agree on its id.
        id: `key_${keyDigest.subarray(0, 8).toString("hex")}`,
        keyDigest,
        namespace: null,
        role: "admin",
        label,
        createdMs: this.deps.now(),
        revokedMs: null,
      },
    ]);
  }

  /** The key's record, or undefined when the token is not a live key. */
  async authenticate(token: string): Promise<ApiKeyRow | undefined> {
    if (token === "" || token.length > MAX_KEY_LENGTH) return undefined;
    // Keyed by the key as sent, so a hit costs no digest: the SHA-256 runs
    // once per key per cache period, not on every call. The price is that a
    // live key stays in this process's memory (never on disk, never logged)
    // for at most cacheSeconds after its last lookup; the keys are 256-bit
    // random secrets, so the lookup by value leaks nothing a guess could use.
    const now = this.deps.now();
    const hit = this.cache.get(token);
    if (hit !== undefined && hit.until > now) return hit.row;
    const generation = this.generation;
    const row = await this.deps.repo.findApiKey(digest(token));
    // Only live keys are cached: a key created on another replica works at
    // once. A lookup that was under way when a key was revoked here may have
    // read it live: its answer is not cached.
    if (row && this.deps.cacheSeconds > 0 && generation === this.generation) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      this.cache.set(token, { row, until: now + this.deps.cacheSeconds * 1000 });
    } else {
      this.cache.delete(token);
    }
    return row;
  }

  list(): Promise<ApiKeyRow[]> {
    return this.deps.repo.listApiKeys();
  }

  /** `actor`: the RevokeKey call's; none for the command. */
  async revoke(id: string, actor: Actor = NO_ACTOR): Promise<void> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      throw invalidArgument("id", "must be 1 to 64 of A-Z a-z 0-9 _ -", "FIELD_MALFORMED");
    }
    const key = (await this.deps.repo.listApiKeys()).find((k) => k.id === id);
    const now = this.deps.now();
    const event = draftEvent(actor, "key.revoked", key?.namespace ?? "", "", now, {
      key_id: id,
      role: key?.role ?? "",
    });
    const revoked = key !== undefined && (await this.deps.repo.revokeApiKey(id, now, [event]));
    this.generation++;
    this.cache.clear();
    if (!revoked) throw new ServiceError("API_KEY_NOT_FOUND");
  }
}

/** One key of `keys export`: its digest, never the key itself. */
export function keyExportLine(key: ApiKeyRecord): string {
  return JSON.stringify({
    id: key.id,
    key_sha256: key.keyDigest.toString("base64"),
    namespace: key.namespace,
    role: key.role,
    label: key.label,
    created_ms: key.createdMs,
    revoked_ms: key.revokedMs,
  });
}

export function parseKeyExportLine(line: string, lineNo: number): ApiKeyRecord {
  const bad = (rule: string) => invalidArgument(`line ${lineNo}`, rule, "FIELD_MALFORMED");
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw bad("is not valid JSON");
  }
  if (typeof o !== "object" || o === null) throw bad("must be a JSON object");
  const digest = typeof o.key_sha256 === "string" ? Buffer.from(o.key_sha256, "base64") : Buffer.alloc(0);
  if (digest.length !== 32) throw bad("key_sha256 must be a base64 SHA-256 digest");
  if (typeof o.id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(o.id))
    throw bad("id must be 1 to 64 of A-Z a-z 0-9 _ -");
  const namespace = o.namespace === null || o.namespace === undefined ? null : String(o.namespace);
  if (namespace !== null) rules.namespace(namespace, `line ${lineNo}: namespace`);
  // Never inferred: a line that merely lacks a namespace must not become an
  // admin key. Lines from before roles (no role) with a namespace were
  // namespace keys, which are service keys now.
  if (o.role === undefined && namespace === null) {
    throw bad('role is required for a key without a namespace ("admin" to import an admin key)');
  }
  const role = keyScope(o.role ?? "service", namespace, `line ${lineNo}: `);
  const createdMs = Number(o.created_ms);
  const revokedMs = o.revoked_ms === null || o.revoked_ms === undefined ? null : Number(o.revoked_ms);
  if (!Number.isSafeInteger(createdMs) || (revokedMs !== null && !Number.isSafeInteger(revokedMs))) {
    throw bad("created_ms and revoked_ms must be unix milliseconds");
  }
  const label = checkLabel(String(o.label ?? ""), `line ${lineNo}: label`);
  return { id: o.id, keyDigest: digest, namespace, role, label, createdMs, revokedMs };
}
