// The passkey (WebAuthn) settings: the relying party the browser binds each
// passkey to. Kept apart from settings.ts so the table there stays one list
// of general settings; SETTING_MAP spreads these in.
import { parseList } from "./parsers.js";

/** The relying party a passkey is bound to, as the service checks it. */
export interface RelyingParty {
  /** RP_ID: a domain; each origin's host is it or a subdomain of it. */
  id: string;
  name: string;
  /** Exact origins a ceremony may come from. */
  origins: string[];
}

/**
 * An origin a passkey ceremony may run on: https, or http on localhost for
 * development (browsers treat only those as secure contexts for WebAuthn).
 */
export function parseRpOrigin(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${clip(text)}" is not an origin like https://app.example.com`);
  }
  if (url.origin !== text) {
    throw new Error(`"${clip(text)}" is not an origin like https://app.example.com (scheme, host and port only)`);
  }
  const localHttp = url.protocol === "http:" && url.hostname === "localhost";
  if (url.protocol !== "https:" && !localHttp) {
    throw new Error(`"${clip(text)}" must be https (http only for http://localhost, in development)`);
  }
  return url.origin;
}

/** A domain name (lowercase labels), or empty for "the host of the first origin". */
export function parseRpId(text: string): string {
  if (text === "") return "";
  if (text.length > 253 || !/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/.test(text)) {
    throw new Error("must be a lowercase domain name such as example.com (no scheme, port or path)");
  }
  return text;
}

function parseRpName(text: string): string {
  if (text.length < 1 || text.length > 64 || /\p{Cc}/u.test(text)) {
    throw new Error("must be 1 to 64 characters without control characters");
  }
  return text;
}

export const PASSKEY_SETTINGS = {
  rpId: {
    env: "RP_ID",
    default: "",
    describe:
      "Passkeys: the relying party id, a domain that every RP_ORIGINS host is or ends with (e.g. example.com). Empty: the host of the first RP_ORIGINS entry.",
    parse: parseRpId,
  },
  rpName: {
    env: "RP_NAME",
    default: "users",
    describe: "Passkeys: the name a browser shows when it creates a passkey (1 to 64 characters).",
    parse: parseRpName,
  },
  rpOrigins: {
    env: "RP_ORIGINS",
    default: "",
    describe:
      "Passkeys: comma-separated origins a passkey ceremony may come from: https://..., or http://localhost[:port] in development. Empty: passkeys are off.",
    parse: parseList(parseRpOrigin),
  },
};

/** The relying party from the settings, or undefined when passkeys are off (no RP_ORIGINS). */
export function relyingParty(settings: {
  rpId: string;
  rpName: string;
  rpOrigins: string[];
}): RelyingParty | undefined {
  const first = settings.rpOrigins[0];
  if (first === undefined) return undefined;
  return {
    id: settings.rpId === "" ? new URL(first).hostname : settings.rpId,
    name: settings.rpName,
    origins: settings.rpOrigins,
  };
}

/** RP_ID must be each origin's host or a parent domain of it (WebAuthn refuses anything else). */
export function checkRelyingParty(
  settings: { rpId: string; rpName: string; rpOrigins: string[] },
  problems: string[],
): void {
  const rp = relyingParty(settings);
  if (!rp) return;
  for (const origin of rp.origins) {
    const host = new URL(origin).hostname;
    if (host !== rp.id && !host.endsWith(`.${rp.id}`)) {
      problems.push(`RP_ORIGINS: ${origin} is not on RP_ID ${rp.id} (its host must be ${rp.id} or end with .${rp.id})`);
    }
  }
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
