// UpdatePassword in process: the confirmation, the old password, the policy,
// the revocation of every session, throttling and concurrent changes.

import { type Client, Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { failure } from "../support/errors.js";
import { type InProcess, startInProcess } from "../support/services.js";

describe.each(ENGINES)("UpdatePassword in process (%s)", (engine) => {
  let s: InProcess;
  let client: Client<typeof Users>;
  let n = 0;
  const newUser = async () => {
    n++;
    const input = { username: `pw${n}`, email: `pw${n}@example.com`, password: "old password" };
    const { user } = await client.create(input);
    return { ...input, id: user!.id };
  };
  const change = (userId: string, oldPassword: string, newPassword: string, confirmPassword = newPassword) =>
    client.updatePassword({ userId, oldPassword, newPassword, confirmPassword });
  const login = (username: string, password: string) => client.login({ username, password });

  beforeAll(async () => {
    s = await startInProcess({ engine, loginMaxFailures: 3, hashConcurrency: 1 });
    client = s.client();
  });
  afterAll(() => s.close());

  test("replaces the password and revokes every session of the user, and only theirs", async () => {
    const u = await newUser();
    const other = await newUser();
    const sessions = [(await login(u.username, u.password)).session!, (await login(u.username, u.password)).session!];
    const theirs = (await login(other.username, other.password)).session!;

    expect(await change(u.id, "old password", "new password")).toMatchObject({});

    for (const session of sessions) {
      expect((await failure(client.readSession({ sessionId: session.id }))).code).toBe(Code.NotFound);
    }
    expect((await client.readSession({ sessionId: theirs.id })).session!.userId).toBe(other.id);
    expect((await failure(login(u.username, "old password"))).code).toBe(Code.Unauthenticated);
    const fresh = (await login(u.username, "new password")).session!;
    expect((await client.readSession({ sessionId: fresh.id })).session!.userId).toBe(u.id);
  });

  test("the new password is NFC-normalised like at Create", async () => {
    const u = await newUser();
    await change(u.id, u.password, "cafe\u0301 au lait");
    expect((await login(u.username, "caf\u00e9 au lait")).session!.userId).toBe(u.id);
  });

  test("a confirmation that differs is InvalidArgument, and nothing changes", async () => {
    const u = await newUser();
    const { session } = await login(u.username, u.password);
    const err = await failure(change(u.id, u.password, "new password", "new passwort"));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, "confirm_password: must equal new_password"]);
    expect((await client.readSession({ sessionId: session!.id })).session).toBeDefined();
    expect((await login(u.username, u.password)).session).toBeDefined();
  });

  test("a wrong old password is Unauthenticated, and nothing changes", async () => {
    const u = await newUser();
    const { session } = await login(u.username, u.password);
    const err = await failure(change(u.id, "not the password", "new password"));
    expect([err.code, err.rawMessage]).toEqual([
      Code.Unauthenticated,
      "old_password: does not match the current password",
    ]);
    expect((await client.readSession({ sessionId: session!.id })).session).toBeDefined();
    expect((await login(u.username, u.password)).session).toBeDefined();
  });

  test.each([
    ["too short", "short", "new_password: must be at least 8 characters"],
    ["73 bytes", `${"€".repeat(24)}a`, "new_password: must be at most 72 bytes of UTF-8"],
    ["with a NUL", "new\u0000password", "new_password: must not contain the NUL character"],
  ])("a new password %s is InvalidArgument naming new_password", async (_why, newPassword, message) => {
    const u = await newUser();
    const err = await failure(change(u.id, u.password, newPassword));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
  });

  test("an unknown user is NotFound; a missing user_id or old_password is InvalidArgument", async () => {
    expect((await failure(change("nobody-known", "old password", "new password"))).code).toBe(Code.NotFound);
    expect((await failure(change("", "old password", "new password"))).rawMessage).toBe("user_id: required");
    const u = await newUser();
    expect((await failure(change(u.id, "", "new password"))).rawMessage).toBe("old_password: required");
  });

  test("guessing the old password is throttled like Login", async () => {
    const u = await newUser();
    for (let i = 0; i < 3; i++)
      expect((await failure(change(u.id, "guess-guess", "new password"))).code).toBe(Code.Unauthenticated);
    const locked = await failure(change(u.id, u.password, "new password"));
    expect(locked.code).toBe(Code.ResourceExhausted);
    expect(locked.metadata.get("retry-after")).toBe("1");
    s.clock.advance(1);
    await change(u.id, u.password, "new password");
    expect((await login(u.username, "new password")).session).toBeDefined();
  });

  test("of two concurrent changes from the same old password, one wins and the other is Aborted", async () => {
    const u = await newUser();
    // Hold the only hashing slot until both calls wait to check the old
    // password, so both check it before either stores its new one.
    let release!: () => void;
    const held = s.hasher.queue.run(() => new Promise<void>((resolve) => (release = resolve)));
    const racing = Promise.allSettled([
      change(u.id, u.password, "first new one"),
      change(u.id, u.password, "second new one"),
    ]);
    for (let tries = 0; s.hasher.queue.stats().waiting < 2; tries++) {
      if (tries > 2500) throw new Error("expected both calls to wait for the hashing slot");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    release();
    await held;
    const results = await racing;
    const won = results.findIndex((r) => r.status === "fulfilled");
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    expect(won).toBeGreaterThanOrEqual(0);
    expect(lost).toBeDefined();
    const err = await failure(Promise.reject(lost!.reason));
    expect([err.code, err.rawMessage]).toEqual([
      Code.Aborted,
      "the password was changed by another request meanwhile; retry",
    ]);
    const winner = won === 0 ? "first new one" : "second new one";
    const loser = won === 0 ? "second new one" : "first new one";
    expect((await login(u.username, winner)).session).toBeDefined();
    expect((await failure(login(u.username, loser))).code).toBe(Code.Unauthenticated);
  });
});
