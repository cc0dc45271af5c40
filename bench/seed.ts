// Seeds a fresh database for the bench through the Repository's bulk loader
// (importUsers in batches, as `users-service users import` does), with one
// bcrypt hash computed once and shared by every user: N users in one
// namespace, live sessions for some of them, and an API key scoped to that
// namespace. Returns what the workloads need to make their requests.
import bcrypt from "bcrypt";
import { KEY_PREFIX } from "../src/service/keys.js";
import { digest, newToken, newUserId } from "../src/service/tokens.js";
import { openRepository } from "../src/storage/open.js";
import type { UserExport } from "../src/storage/repository.js";
import { msSince } from "./latency.js";

export const NAMESPACE = "bench";
export const PASSWORD = "bench-password-1";
const BATCH = 5000;
/** How many users, sessions and search prefixes the workloads take turns with. */
const SAMPLE = 1000;
const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

export interface SeedOptions {
  databaseUrl: string;
  users: number;
  bcryptCost: number;
  /** Called now and then with the number of users loaded. */
  progress?: (loaded: number) => void;
}

export interface Seeded {
  users: number;
  /** Time to load the users with importUsers, in seconds. */
  loadSeconds: number;
  apiKey: string;
  userIds: string[];
  usernames: string[];
  sessionIds: string[];
  /** Username prefixes of 1 to 4 characters taken from real usernames. */
  prefixes: string[];
}

export async function seed(options: SeedOptions): Promise<Seeded> {
  const repo = await openRepository({ databaseUrl: options.databaseUrl, pgPoolSize: 4, pgStatementTimeoutMs: 600_000 });
  try {
    const passwordHash = await bcrypt.hash(PASSWORD, options.bcryptCost);
    const names = new NameMaker(0x5eed);
    const every = Math.max(1, Math.floor(options.users / SAMPLE));
    const sampled: Array<{ id: string; username: string }> = [];
    const base = Date.now() - options.users - 60_000;

    const start = process.hrtime.bigint();
    for (let first = 0; first < options.users; first += BATCH) {
      const batch: UserExport[] = [];
      for (let i = first; i < Math.min(first + BATCH, options.users); i++) {
        const username = names.next(i);
        const createdMs = base + i;
        const user = { id: newUserId(), username, email: `${username}@example.com`, createdMs, updatedMs: createdMs };
        if (i % every === 0 && sampled.length < SAMPLE) sampled.push({ id: user.id, username });
        batch.push({ namespace: NAMESPACE, user, passwordHash });
      }
      const result = await repo.importUsers(batch);
      if (result.skipped > 0) throw new Error(`seed: ${result.skipped} users clashed`);
      options.progress?.(first + batch.length);
    }
    const loadSeconds = msSince(start) / 1000;

    const now = Date.now();
    const sessionIds: string[] = [];
    for (const user of sampled) {
      const id = newToken();
      const session = { idDigest: digest(id), userId: user.id, createdMs: now, expiresMs: now + SESSION_TTL_MS };
      if (!(await repo.insertSession(NAMESPACE, session, passwordHash))) throw new Error("seed: session not inserted");
      sessionIds.push(id);
    }
    const apiKey = KEY_PREFIX + newToken();
    await repo.insertApiKey({
      id: "key_bench",
      keyDigest: digest(apiKey),
      namespace: NAMESPACE,
      role: "service",
      label: "bench",
      createdMs: now,
      revokedMs: null,
    });
    return {
      users: options.users,
      loadSeconds,
      apiKey,
      userIds: sampled.map((u) => u.id),
      usernames: sampled.map((u) => u.username),
      sessionIds,
      prefixes: sampled.map((u, i) => u.username.slice(0, 1 + (i % 4))),
    };
  } finally {
    await repo.close();
  }
}

/**
 * Usernames like real ones for prefix search: 4 to 9 random lowercase letters
 * (so a 1-letter prefix matches about 1/26 of everyone, a 4-letter one a few),
 * made unique by the user's number in base 36.
 */
class NameMaker {
  constructor(private state: number) {}

  next(i: number): string {
    const length = 4 + (this.random() % 6);
    let name = "";
    for (let k = 0; k < length; k++) name += String.fromCharCode(97 + (this.random() % 26));
    return name + i.toString(36);
  }

  /** mulberry32: a small deterministic PRNG, so every run seeds the same names. */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}
