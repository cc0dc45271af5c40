// Accounts: create, read, update, delete and search users of a namespace.
import type { Repository, User } from "../storage/repository.js";
import { SearchTooBroad, UniqueViolation } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import { draftEvent } from "./events.js";
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
}

export interface UpdateUserInput {
  id: string;
  username: string;
  email: string;
}

export interface SearchUsersInput {
  username: string;
  email: string;
  limit: bigint | number;
  offset: bigint | number;
}

export class UsersService {
  constructor(private readonly deps: UsersDeps) {}

  async create(namespace: string, input: CreateUserInput): Promise<User> {
    const id = input.id === "" ? newUserId() : rules.userId(input.id);
    const username = rules.username(input.username);
    const email = rules.email(input.email);
    const password = rules.newPassword(input.password);
    const hash = await this.deps.hasher.hash(password);
    const now = this.deps.now();
    const user: User = { id, username, email, createdMs: now, updatedMs: now };
    const created = draftEvent("user.created", namespace, id, now, { username, email });
    await uniquely(() => this.deps.repo.insertUser(namespace, user, hash, [created]));
    return user;
  }

  async read(namespace: string, id: string): Promise<User> {
    const user = await this.deps.repo.getUser(namespace, rules.userId(id));
    if (!user) throw new ServiceError("USER_NOT_FOUND");
    return user;
  }

  /** Partial update: empty fields are left as they are. */
  async update(namespace: string, input: UpdateUserInput): Promise<User> {
    const id = rules.userId(input.id);
    const changes: { username?: string; email?: string } = {};
    if (input.username !== "") changes.username = rules.username(input.username);
    if (input.email !== "") changes.email = rules.email(input.email);
    if (changes.username === undefined && changes.email === undefined) {
      // Nothing to change: no write, and `updated` stays where it was.
      const user = await this.deps.repo.getUser(namespace, id);
      if (!user) throw new ServiceError("USER_NOT_FOUND");
      return user;
    }
    const now = this.deps.now();
    const updated = draftEvent("user.updated", namespace, id, now, { ...changes });
    const user = await uniquely(() => this.deps.repo.updateUser(namespace, id, changes, now, [updated]));
    if (!user) throw new ServiceError("USER_NOT_FOUND");
    return user;
  }

  async delete(namespace: string, id: string): Promise<void> {
    const userId = rules.userId(id);
    const deleted = draftEvent("user.deleted", namespace, userId, this.deps.now());
    if (!(await this.deps.repo.deleteUser(namespace, userId, [deleted]))) throw new ServiceError("USER_NOT_FOUND");
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
