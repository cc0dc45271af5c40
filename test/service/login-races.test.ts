// The service layer's race paths, with no database and no socket: the real
// services from buildServices over an in-memory repository whose calls a test
// can hold, release or fail, so each interleaving is exact rather than hoped
// for under load.
import { describe, expect, test } from "@jest/globals";
import bcrypt from "bcrypt";
import { loadConfig } from "../../src/config/config.js";
import { buildServices, type ServiceSettings } from "../../src/service/build-services.js";
import { ServiceError } from "../../src/service/errors.js";
import { NO_ACTOR } from "../../src/service/events.js";
import type { Session } from "../../src/service/model.js";
import { StorageUnavailable } from "../../src/storage/repository.js";
import { TestClock } from "../support/clock.js";
import { MemoryRepository } from "../support/memory-repository.js";

// The defaults of every setting, with cheap hashing and a short session.
const SETTINGS: ServiceSettings = {
  ...loadConfig({}),
  bcryptCost: 4,
  hashConcurrency: 2,
  hashQueueMax: 64,
  sessionTtlSeconds: 3600,
  maxSessionsPerUser: 100,
  apiKeyCacheSeconds: 5,
  loginMaxFailures: 5,
  loginLockoutBaseSeconds: 1,
  loginLockoutMaxSeconds: 900,
};
const NS = "races";

async function setUp(settings: Partial<ServiceSettings> = {}) {
  const repo = new MemoryRepository();
  const clock = new TestClock();
  const services = buildServices({ settings: { ...SETTINGS, ...settings }, repo, now: clock.now });
  const user = await services.users.create(
    NS,
    {
      id: "",
      username: "alice",
      email: "alice@example.com",
      password: "password-1",
    },
    NO_ACTOR,
  );
  return { repo, clock, services, userId: user.id };
}

type Services = Awaited<ReturnType<typeof setUp>>["services"];

/** Login as alice with `password`. */
function loginAlice(services: Services, password: string) {
  return services.sessions.login(NS, { username: "alice", email: "", password }, NO_ACTOR);
}

/** UpdatePassword from `oldPassword` to `newPassword`. */
function changePassword(services: Services, userId: string, oldPassword: string, newPassword: string) {
  return services.passwords.update(NS, { userId, oldPassword, newPassword, confirmPassword: newPassword }, NO_ACTOR);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (err) {
    if (err instanceof ServiceError) return err.code;
    throw err;
  }
}

/** Resolves once `check` holds, polling the event loop (bounded by the test timeout). */
async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 2));
}

describe("login against a password change", () => {
  test("a login checked against the old password before the change committed gets no session", async () => {
    const { repo, services, userId } = await setUp();
    const held = repo.hold("insertSession");
    const login = loginAlice(services, "password-1");
    await held.arrived; // the old password was verified; the session is not stored yet

    await changePassword(services, userId, "password-1", "password-2");
    held.release();

    expect(await codeOf(login)).toBe("unauthenticated");
    expect(await repo.listSessions(NS, userId, Date.now(), 10)).toEqual([]);
    // The new password signs in; the old one no longer does.
    expect(await codeOf(loginAlice(services, "password-2"))).toBe("ok");
    expect(await codeOf(loginAlice(services, "password-1"))).toBe("unauthenticated");
  });

  test("a password change that started after a login's session was stored revokes that session", async () => {
    const { repo, clock, services, userId } = await setUp();
    const session = (await loginAlice(services, "password-1")) as Session;
    await changePassword(services, userId, "password-1", "password-2");
    expect(await codeOf(services.sessions.read(NS, session.id))).toBe("not_found");
    expect(await repo.listSessions(NS, userId, clock.now(), 10)).toEqual([]);
  });

  test("two password changes from the same old password: one wins, the other is Aborted", async () => {
    const { repo, services, userId } = await setUp();
    const held = repo.hold("replacePasswordHash");
    const first = changePassword(services, userId, "password-1", "password-2");
    await held.arrived;
    const second = changePassword(services, userId, "password-1", "password-3");
    expect(await codeOf(second)).toBe("ok");
    held.release();
    expect(await codeOf(first)).toBe("aborted");
    const hash = (await repo.getCredential(NS, userId))!.passwordHash;
    expect(await bcrypt.compare("password-3", hash)).toBe(true);
  });
});

describe("login against a hash upgrade", () => {
  test("a login checked against the old-cost hash while another login upgraded it still gets its session", async () => {
    const { repo, services, userId } = await setUp();
    // An imported hash at another cost: the next successful login re-makes it at cost 4.
    const imported = await bcrypt.hash("password-1", 5);
    const before = (await repo.getCredential(NS, userId))!.passwordHash;
    await repo.replacePasswordHash(NS, userId, before, imported, 0, false);

    const held = repo.hold("insertSession");
    const late = loginAlice(services, "password-1");
    await held.arrived; // verified against the cost-5 hash

    const first = (await loginAlice(services, "password-1")) as Session;
    await until(async () => (await repo.getCredential(NS, userId))!.passwordHash !== imported);
    held.release();

    const session = (await late) as Session;
    expect(session.userId).toBe(userId);
    expect((await services.sessions.read(NS, first.id)).userId).toBe(userId);
    expect((await repo.getCredential(NS, userId))!.passwordHash).toMatch(/^\$2b\$04\$/);
  });

  test("concurrent logins of one account spend one re-hash between them", async () => {
    const { repo, services, userId } = await setUp({ loginMaxFailures: 50 });
    const before = (await repo.getCredential(NS, userId))!.passwordHash;
    await repo.replacePasswordHash(NS, userId, before, await bcrypt.hash("password-1", 5), 0, false);
    await Promise.all(Array.from({ length: 4 }, () => loginAlice(services, "password-1")));
    await until(async () => (await repo.getCredential(NS, userId))!.passwordHash.startsWith("$2b$04$"));
    expect(repo.calls.get("replacePasswordHash")).toBe(2); // the set-up's, and one upgrade
  });
});

describe("a right password is never counted as a failed guess", () => {
  test("logins whose session cannot be stored (the database is down) do not lock the account", async () => {
    const { repo, services } = await setUp();
    for (let i = 0; i < SETTINGS.loginMaxFailures + 2; i++) {
      const held = repo.hold("insertSession");
      const login = loginAlice(services, "password-1");
      await held.arrived;
      held.release(new StorageUnavailable("database down"));
      await expect(login).rejects.toBeInstanceOf(StorageUnavailable);
    }
    expect(await codeOf(loginAlice(services, "password-1"))).toBe("ok");
  });

  test("twelve simultaneous logins with the right password all succeed", async () => {
    const { services } = await setUp();
    const codes = await Promise.all(Array.from({ length: 12 }, () => codeOf(loginAlice(services, "password-1"))));
    expect(codes).toEqual(Array(12).fill("ok"));
  });

  test("twelve simultaneous wrong guesses: at most LOGIN_MAX_FAILURES are checked, the rest are refused", async () => {
    const { repo, services } = await setUp();
    const codes = await Promise.all(Array.from({ length: 12 }, () => codeOf(loginAlice(services, "wrong-pass"))));
    expect(codes.filter((c) => c === "unauthenticated")).toHaveLength(SETTINGS.loginMaxFailures);
    expect(codes.filter((c) => c === "resource_exhausted")).toHaveLength(12 - SETTINGS.loginMaxFailures);
    expect(repo.calls.get("failLoginAttempt")).toBe(SETTINGS.loginMaxFailures);
  });

  test("wrong passwords lock the account after LOGIN_MAX_FAILURES; the right one is refused while locked", async () => {
    const { services, clock } = await setUp();
    for (let i = 0; i < SETTINGS.loginMaxFailures; i++) {
      expect(await codeOf(loginAlice(services, "wrong-pass"))).toBe("unauthenticated");
    }
    expect(await codeOf(loginAlice(services, "password-1"))).toBe("resource_exhausted");
    clock.advance(SETTINGS.loginLockoutBaseSeconds);
    expect(await codeOf(loginAlice(services, "password-1"))).toBe("ok");
  });
});
