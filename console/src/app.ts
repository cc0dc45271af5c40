// What every view gets: the client, navigation between views, and the page's
// two live regions (errors are announced at once, other news politely).
import type { KeysClient, UsersClient } from "./client.js";

/** Where the users list was: kept so "Back to users" returns to the same search and page. */
export interface ListQuery {
  username: string;
  email: string;
  page: number;
}

export interface App {
  readonly client: UsersClient;
  /** Key management: answers PermissionDenied unless the key is an admin key. */
  readonly keys: KeysClient;
  /** The namespace calls go to, as typed (empty: the key's own). */
  namespace(): string;
  showConnect(): void;
  /** The users list at this query, or where it was last. */
  showUsers(query?: ListQuery): void;
  /** One user; "Back to users" returns to the list as it was last shown. */
  showUser(id: string): void;
  /** The users list tells where it is (search and page), for coming back to it. */
  rememberListQuery(query: ListQuery): void;
  showNewUser(): void;
  /** The API keys: list, create (shown once), revoke. */
  showKeys(): void;
  /** Announces an error (role=alert) and keeps it on screen until the next action. */
  error(text: string): void;
  /** Announces news (role=status), e.g. "User saved". */
  status(text: string): void;
  clearMessages(): void;
}
