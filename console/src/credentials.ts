// The API key and namespace the console calls with.
//
// Security: the key lives only in this module's memory, for the life of the
// tab. It is never written to localStorage, sessionStorage, cookies or the
// URL (a URL ends up in history, logs and Referer headers), so closing or
// reloading the tab forgets it and another page cannot read it back.

export interface Credentials {
  /** The API key, sent as `authorization: Bearer <key>`. */
  key: string;
  /** The namespace (`micro-namespace`); empty means the key's own. */
  namespace: string;
}

let current: Credentials | undefined;

export function setCredentials(credentials: Credentials): void {
  current = { key: credentials.key, namespace: credentials.namespace.trim() };
}

export function clearCredentials(): void {
  current = undefined;
}

export function getCredentials(): Credentials | undefined {
  return current;
}
