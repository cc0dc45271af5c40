// Parsers for environment values. Each returns the typed value or throws an
// Error whose message states the rule (the caller prefixes the variable name).

export function parseInteger(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^-?\d+$/.test(text.trim()))
      throw new Error(`must be a whole number from ${min} to ${max}, got "${clip(text)}"`);
    const value = Number(text.trim());
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`must be a whole number from ${min} to ${max}, got ${clip(text)}`);
    }
    return value;
  };
}

/** Whole seconds, optionally with a unit suffix: 90, 90s, 15m, 12h, 7d. */
export function parseDurationSeconds(min: number, max: number): (text: string) => number {
  const units: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };
  return (text) => {
    const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
    const rule = `must be a duration in seconds from ${min} to ${max} (a number, or with s/m/h/d), got "${clip(text)}"`;
    if (!match) throw new Error(rule);
    const value = Number(match[1]) * (units[match[2] ?? ""] ?? 1);
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new Error(rule);
    return value;
  };
}

export function parseEnum<const T extends readonly string[]>(choices: T): (text: string) => T[number] {
  return (text) => {
    const value = text.trim().toLowerCase();
    if (!choices.includes(value)) throw new Error(`must be one of ${choices.join(", ")}, got "${clip(text)}"`);
    return value as T[number];
  };
}

export function parseList<T>(item: (text: string) => T): (text: string) => T[] {
  return (text) =>
    text
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part !== "")
      .map(item);
}

/** A browser origin: scheme://host[:port], nothing more (no path, no trailing slash). */
export function parseOrigin(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${clip(text)}" is not an origin like https://app.example.com`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== text) {
    throw new Error(`"${clip(text)}" is not an origin like https://app.example.com (scheme, host and port only)`);
  }
  return url.origin;
}

/** A mail server URL: smtp:// or smtps://, with a host. */
export function parseSmtpUrl(text: string): string {
  if (text === "") return "";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error("must be a URL like smtp://user:pass@mail.example.com:587 or smtps://...");
  }
  if ((url.protocol !== "smtp:" && url.protocol !== "smtps:") || url.hostname === "") {
    throw new Error("must start with smtp:// or smtps:// and name a host");
  }
  return text;
}

/** An external base URL: http(s)://host[:port][/path], without query or fragment; no trailing slash kept. */
export function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${clip(text)}" is not a URL like https://users.example.com`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash || url.username) {
    throw new Error(`"${clip(text)}" must be http(s)://host[:port][/path], without query, fragment or credentials`);
  }
  return url.toString().replace(/\/+$/, "");
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
