// Accounts: create, read, update, delete and search users of a namespace.
import type { Repository, User, UserChanges } from "../storage/repository.js";
import { ProfileTooLarge, SearchTooBroad, UniqueViolation } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import { type Actor, draftEvent } from "./events.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import type { PasswordHasher } from "./password-hasher.js";
import { newUserId } from "./tokens.js";
import * as rules from "./validation.js";

export interface UsersDeps {
  repo: Repository;
  hasher: PasswordHasher;
  now: () => number;
}

export interface CreateUserInput {
  id: string;
  username: string;
  email: string;
  password: string;
  profile?: Record<string, string>;
}

export interface UpdateUserInput {
  id: string;
  username: string;
  email: string;
  /** Entries to merge in; an empty value removes its key. */
  profile?: Record<string, string>;
}

export interface ListUsersInput {
  offset: bigint | number;
  limit: bigint | number;
  pageToken: string;
}

export interface SearchUsersInput {
  username: string;
  email: string;
  limit: bigint | number;
  offset: bigint | number;
}

export class UsersService {
  constructor(private readonly deps: UsersDeps) {}

  async create(namespace: string, input: CreateUserInput, actor: Actor): Promise<User> {
    const id = input.id === "" ? newUserId() : rules.userId(input.id);
    const username = rules.username(input.username);
    const email = rules.email(input.email);
    const password = rules.newPassword(input.password);
    // At Create an empty value means no entry.
    const profile = rules.mergedProfile({}, rules.profileEntries(input.profile ?? {}));
    const hash = await this.deps.hasher.hash(password);
    const now = this.deps.now();
    const user: User = { id, username, email, createdMs: now, updatedMs: now };
    if (Object.keys(profile).length > 0) user.profile = profile;
    const created = draftEvent(actor, "user.created", namespace, id, now, { username, email });
    await uniquely(() => this.deps.repo.insertUser(namespace, user, hash, [created]));
    return user;
  }

  /** By exactly one of id, username or email. */
  async read(namespace: string, lookup: { id: string; username: string; email: string }): Promise<User> {
    const user = await this.deps.repo.findUser(namespace, rules.userLookup(lookup));
    if (!user) throw new ServiceError("USER_NOT_FOUND");
    return user;
  }

  /**
   * Partial update: empty fields are left as they are; profile entries are
   * merged into the stored profile (an empty value removes its key). The
   * user's own current username or email is no clash.
   */
  async update(namespace: string, input: UpdateUserInput, actor: Actor): Promise<User> {
    const { repo } = this.deps;
    const id = rules.userId(input.id);
    const changes: UserChanges = {};
    if (input.username !== "") changes.username = rules.username(input.username);
    if (input.email !== "") changes.email = rules.email(input.email);
    const edit = rules.profileEntries(input.profile ?? {});
    const editsProfile = Object.keys(edit).length > 0;
    if (changes.username === undefined && changes.email === undefined && !editsProfile) {
      // Nothing to change: no write, and `updated` stays where it was.
      const user = await repo.getUser(namespace, id);
      if (!user) throw new ServiceError("USER_NOT_FOUND");
      return user;
    }
    const now = this.deps.now();
    // What changed, by name; profile values are the caller's data, so only their keys are named.
    const updated = draftEvent(actor, "user.updated", namespace, id, now, {
      ...(changes.username !== undefined ? { username: changes.username } : {}),
      ...(changes.email !== undefined ? { email: changes.email } : {}),
      ...(editsProfile ? { profile_keys: Object.keys(edit).sort() } : {}),
    });
    // The edit is merged into the stored profile by the write itself (one
    // transaction), so concurrent edits of other keys are never lost and the
    // entry bound holds whatever runs at once.
    if (editsProfile) changes.profile = { edit, maxEntries: rules.LIMITS.profileEntriesMax };
    try {
      const user = await uniquely(() => repo.updateUser(namespace, id, changes, now, [updated]));
      if (!user) throw new ServiceError("USER_NOT_FOUND");
      return user;
    } catch (err) {
      if (err instanceof ProfileTooLarge) throw rules.profileTooLarge(err.entries);
      throw err;
    }
  }

  /**
   * Disables or enables an account; either way every session of the user
   * ends in the same commit (after a disable none may survive; after an
   * enable the user signs in anew). Idempotent.
   */
  async setDisabled(namespace: string, id: string, disabled: boolean, actor: Actor): Promise<User> {
    const userId = rules.userId(id);
    const now = this.deps.now();
    // An event only for a change: a repeated disable or enable (idempotent) writes none.
    const before = await this.deps.repo.getUser(namespace, userId);
    const changes = before !== undefined && Boolean(before.disabledMs) !== disabled;
    const events = changes
      ? [draftEvent(actor, disabled ? "user.disabled" : "user.enabled", namespace, userId, now)]
      : [];
    const user = await this.deps.repo.setUserDisabled(namespace, userId, disabled, now, events);
    if (!user) throw new ServiceError("USER_NOT_FOUND");
    return user;
  }

  async delete(namespace: string, id: string, actor: Actor): Promise<void> {
    const userId = rules.userId(id);
    const deleted = draftEvent(actor, "user.deleted", namespace, userId, this.deps.now());
    if (!(await this.deps.repo.deleteUser(namespace, userId, [deleted]))) throw new ServiceError("USER_NOT_FOUND");
  }

  /**
   * A page of every user, oldest first, after the page token's position. One
   * more row than asked is read to know whether a next page exists.
   */
  async list(namespace: string, input: ListUsersInput): Promise<{ users: User[]; nextPageToken: string }> {
    const { limit, offset } = rules.pageBounds(input);
    const after = input.pageToken === "" ? undefined : decodePageToken(input.pageToken);
    const rows = await this.deps.repo.listUsers(namespace, { ...(after ? { after } : {}), offset, limit: limit + 1 });
    const users = rows.slice(0, limit);
    const last = users[users.length - 1];
    const nextPageToken =
      rows.length > limit && last ? encodePageToken({ createdMs: last.createdMs, id: last.id }) : "";
    return { users, nextPageToken };
  }

  async search(namespace: string, input: SearchUsersInput): Promise<User[]> {
    try {
      return await this.deps.repo.searchUsers(namespace, rules.searchQuery(input));
    } catch (err) {
      // Depends on the namespace's data, not on the request alone: FailedPrecondition.
      if (err instanceof SearchTooBroad) throw new ServiceError("SEARCH_TOO_BROAD", { scanMax: err.scanMax });
      throw err;
    }
  }
}

/** Runs a write and reports a uniqueness clash as AlreadyExists naming the field. */
async function uniquely<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof UniqueViolation) throw new ServiceError("ALREADY_TAKEN", { field: err.field });
    throw err;
  }
}
