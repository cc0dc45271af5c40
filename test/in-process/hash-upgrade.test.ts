// A password hash made at another bcrypt cost (imported, or from before a
// BCRYPT_COST change) is re-made at the configured cost after a successful
// login, without ending the session that login made.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import bcrypt from "bcrypt";
import { ENGINES } from "../support/databases.js";
import { type InProcess, startInProcess } from "../support/services.js";

describe.each(ENGINES)("hash upgrade at login (%s)", (engine) => {
  let app: InProcess;
  beforeAll(async () => {
    app = await startInProcess({ engine, bcryptCost: 4, loginMaxFailures: 50 });
  });
  afterAll(() => app.close());

  async function hashOf(namespace: string, id: string): Promise<string> {
    return (await app.repo.getCredential(namespace, id))!.passwordHash;
  }

  /** Waits (bounded by the test timeout) until the stored hash satisfies `done`. */
  async function eventually(namespace: string, id: string, done: (hash: string) => boolean): Promise<string> {
    for (;;) {
      const hash = await hashOf(namespace, id);
      if (done(hash)) return hash;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  test("an imported cost-5 $2a$ hash becomes a cost-4 $2b$ hash; the session stays; both passwords rules hold", async () => {
    const ns = "upgrade";
    const imported = (await bcrypt.hash("legacy-password", 5)).replace("$2b$", "$2a$");
    await app.repo.importUsers([
      {
        namespace: ns,
        user: { id: "old-1", username: "oldtimer", email: "old@example.com", createdMs: 1, updatedMs: 1 },
        passwordHash: imported,
      },
    ]);
    const client = app.client({ namespace: ns });
    const { session } = await client.login({ username: "oldtimer", password: "legacy-password" });

    const upgraded = await eventually(ns, "old-1", (hash) => hash !== imported);
    expect(upgraded).toMatch(/^\$2b\$04\$/);
    expect(await bcrypt.compare("legacy-password", upgraded)).toBe(true);
    // Not a password change: the login's session is still there.
    expect((await client.readSession({ sessionId: session!.id })).session!.userId).toBe("old-1");
    expect((await client.login({ username: "oldtimer", password: "legacy-password" })).session).toBeDefined();
    expect(await hashOf(ns, "old-1")).toBe(upgraded);
  });

  test("logins at the same moment as the upgrade all succeed with the right password", async () => {
    const ns = "upgrade-race";
    const imported = await bcrypt.hash("legacy-password", 8);
    await app.repo.importUsers([
      {
        namespace: ns,
        user: { id: "old-2", username: "busy", email: "busy@example.com", createdMs: 1, updatedMs: 1 },
        passwordHash: imported,
      },
    ]);
    const client = app.client({ namespace: ns });
    const logins = await Promise.allSettled(
      Array.from({ length: 16 }, () => client.login({ username: "busy", password: "legacy-password" })),
    );
    expect(logins.map((l) => l.status)).toEqual(Array(16).fill("fulfilled"));
    const upgraded = await eventually(ns, "old-2", (hash) => hash !== imported);
    expect(upgraded).toMatch(/^\$2b\$04\$/);
    // A wrong password still fails, upgrade or not.
    await expect(client.login({ username: "busy", password: "wrong-password" })).rejects.toThrow("invalid credentials");
  });

  test("a hash at the configured cost is left as it is", async () => {
    const client = app.client({ namespace: "steady" });
    const { user } = await client.create({
      username: "steady",
      email: "steady@example.com",
      password: "steady-password",
    });
    const before = await hashOf("steady", user!.id);
    await client.login({ username: "steady", password: "steady-password" });
    await client.login({ username: "steady", password: "steady-password" });
    expect(await hashOf("steady", user!.id)).toBe(before);
  });

  test("a failed login never touches the hash", async () => {
    const ns = "failing";
    const imported = await bcrypt.hash("right-password", 5);
    await app.repo.importUsers([
      {
        namespace: ns,
        user: { id: "f-1", username: "faily", email: "f@example.com", createdMs: 1, updatedMs: 1 },
        passwordHash: imported,
      },
    ]);
    await expect(
      app.client({ namespace: ns }).login({ username: "faily", password: "wrong-password" }),
    ).rejects.toThrow();
    expect(await hashOf(ns, "f-1")).toBe(imported);
  });
});
