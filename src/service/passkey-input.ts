// The rules on passkey RPC input: the browser's WebAuthn answers (bounded
// JSON of the documented shape), passkey ids and names, ceremony handles.
// Like validation.ts, each returns the value or throws InvalidArgument naming
// the field and the rule; lengths are checked before anything is parsed.
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { invalidArgument } from "./errors.js";

export const PASSKEY_LIMITS = {
  /** A registration answer with "none" attestation is about 1 KiB; room for large extensions. */
  responseJsonMax: 32 * 1024,
  nameMax: 64,
  /** Passkeys one user may have. */
  perUserMax: 20,
  /** WebAuthn credential ids are at most 1023 bytes: 1364 base64url characters. */
  credentialIdMax: 1364,
  transportsMax: 8,
} as const;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const PASSKEY_ID = /^pk_[0-9a-f]{24}$/;
/** A ceremony handle is a challenge: 32 random bytes, base64url. */
const HANDLE = /^[A-Za-z0-9_-]{43}$/;
const TRANSPORT = /^[a-z-]{1,16}$/;

export const DEFAULT_PASSKEY_NAME = "Passkey";

export function passkeyName(raw: string, field = "name"): string {
  const value = raw.trim();
  if (value === "") return DEFAULT_PASSKEY_NAME;
  if ([...value].length > PASSKEY_LIMITS.nameMax) {
    throw invalidArgument(field, `must be at most ${PASSKEY_LIMITS.nameMax} characters`, "FIELD_TOO_LONG");
  }
  if (/[\p{Cc}\p{Cs}]/u.test(value)) {
    throw invalidArgument(field, "must not contain control characters", "FIELD_MALFORMED");
  }
  return value;
}

export function passkeyId(raw: string, field = "passkey_id"): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (!PASSKEY_ID.test(raw)) {
    throw invalidArgument(
      field,
      "must be a passkey id as ListPasskeys gives it (pk_ and 24 hex digits)",
      "FIELD_MALFORMED",
    );
  }
  return raw;
}

export function ceremonyHandle(raw: string, field = "handle"): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (!HANDLE.test(raw)) {
    throw invalidArgument(
      field,
      "must be the handle BeginPasskeyLogin gave (43 base64url characters)",
      "FIELD_MALFORMED",
    );
  }
  return raw;
}

type Json = Record<string, unknown>;

/** The common part of both answers: the credential, and the client data the browser signed over. */
export interface ParsedResponse<T> {
  response: T;
  /** The challenge the browser says it answered (from clientDataJSON). */
  challenge: string;
}

export function registrationResponse(raw: string, field = "response_json"): ParsedResponse<RegistrationResponseJSON> {
  const json = credentialJson(raw, field);
  const inner = json.response as Json;
  requireBase64url(inner.attestationObject, field, "response.attestationObject");
  const transports = inner.transports;
  if (
    transports !== undefined &&
    (!Array.isArray(transports) ||
      transports.length > PASSKEY_LIMITS.transportsMax ||
      !transports.every((t) => typeof t === "string" && TRANSPORT.test(t)))
  ) {
    throw malformed(field, `response.transports must be at most ${PASSKEY_LIMITS.transportsMax} transport names`);
  }
  return { response: json as unknown as RegistrationResponseJSON, challenge: clientChallenge(inner, field) };
}

export function authenticationResponse(
  raw: string,
  field = "response_json",
): ParsedResponse<AuthenticationResponseJSON> {
  const json = credentialJson(raw, field);
  const inner = json.response as Json;
  requireBase64url(inner.authenticatorData, field, "response.authenticatorData");
  requireBase64url(inner.signature, field, "response.signature");
  if (inner.userHandle !== undefined && inner.userHandle !== null) {
    requireBase64url(inner.userHandle, field, "response.userHandle");
  }
  return { response: json as unknown as AuthenticationResponseJSON, challenge: clientChallenge(inner, field) };
}

/** Parses and checks what both ceremonies' answers share: id, rawId, type and response.clientDataJSON. */
function credentialJson(raw: string, field: string): Json {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (raw.length > PASSKEY_LIMITS.responseJsonMax) {
    throw invalidArgument(field, `must be at most ${PASSKEY_LIMITS.responseJsonMax} characters`, "FIELD_TOO_LONG");
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw malformed(field, "must be JSON: the browser's PublicKeyCredential as JSON");
  }
  if (!isObject(json)) throw malformed(field, "must be a JSON object: the browser's PublicKeyCredential as JSON");
  const id = json.id;
  if (typeof id !== "string" || id === "" || id.length > PASSKEY_LIMITS.credentialIdMax || !BASE64URL.test(id)) {
    throw malformed(field, "id must be the credential id in base64url");
  }
  if (json.rawId !== id) throw malformed(field, "rawId must equal id");
  if (json.type !== "public-key") throw malformed(field, 'type must be "public-key"');
  if (!isObject(json.response)) throw malformed(field, "response must be an object");
  if (json.clientExtensionResults !== undefined && !isObject(json.clientExtensionResults)) {
    throw malformed(field, "clientExtensionResults must be an object");
  }
  if (json.clientExtensionResults === undefined) json.clientExtensionResults = {};
  return json;
}

/** The challenge inside response.clientDataJSON (base64url of the JSON the browser signed). */
function clientChallenge(inner: Json, field: string): string {
  requireBase64url(inner.clientDataJSON, field, "response.clientDataJSON");
  let clientData: unknown;
  try {
    clientData = JSON.parse(Buffer.from(inner.clientDataJSON as string, "base64url").toString("utf8"));
  } catch {
    throw malformed(field, "response.clientDataJSON must be base64url of JSON");
  }
  const challenge = isObject(clientData) ? clientData.challenge : undefined;
  if (typeof challenge !== "string" || challenge === "" || challenge.length > 1024 || !BASE64URL.test(challenge)) {
    throw malformed(field, "response.clientDataJSON must hold the challenge");
  }
  return challenge;
}

function requireBase64url(value: unknown, field: string, name: string): void {
  if (typeof value !== "string" || value === "" || !BASE64URL.test(value)) {
    throw malformed(field, `${name} must be base64url`);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function malformed(field: string, rule: string) {
  return invalidArgument(field, rule, "FIELD_MALFORMED");
}
