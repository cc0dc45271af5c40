// Accounts in process: Create, Read, Update, Delete and Search through the
// real routes and interceptors, over a real database.

import { type Client, Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { failure } from "../support/errors.js";
import { type InProcess, startInProcess } from "../support/services.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe.each(ENGINES)("accounts in process (%s)", (engine) => {
  let s: InProcess;
  let client: Client<typeof Users>;
  let n = 0;
  /** A fresh, valid account (unique names) with the given overrides. */
  const account = (over: Partial<{ id: string; username: string; email: string; password: string }> = {}) => {
    n++;
    return { id: "", username: `user${n}`, email: `user${n}@example.com`, password: "password1", ...over };
  };

  beforeAll(async () => {
    s = await startInProcess({ engine });
    client = s.client();
  });
  afterAll(() => s.close());

  describe("Create", () => {
    test("normalises username and email, keeps the given id, stamps created = updated", async () => {
      const { user } = await client.create({
        id: "ff3c06de-9e43-41c7-9bab-578f6b4ad32b",
        username: "Asim",
        email: "  Asim@Example.COM ",
        password: "password1",
      });
      expect(user).toMatchObject({
        id: "ff3c06de-9e43-41c7-9bab-578f6b4ad32b",
        username: "asim",
        email: "asim@example.com",
        created: BigInt(s.clock.seconds()),
        updated: BigInt(s.clock.seconds()),
      });
    });

    test("without an id, a UUIDv7 is generated; later ones sort after earlier ones", async () => {
      const first = (await client.create(account())).user!;
      s.clock.advance(1);
      const second = (await client.create(account())).user!;
      expect(first.id).toMatch(UUID_V7);
      expect(second.id).toMatch(UUID_V7);
      expect(first.id < second.id).toBe(true);
    });

    test("the password is stored as a bcrypt hash, never in clear", async () => {
      const { user } = await client.create(account({ password: "a secret password" }));
      const credential = await s.repo.getCredential("default", user!.id);
      expect(credential?.passwordHash).toMatch(/^\$2[aby]\$04\$/);
      expect(credential?.passwordHash).not.toContain("a secret password");
    });

    test.each([
      ["id", { id: "has space" }, "id: must be 1 to 64 of A-Z a-z 0-9 . _ -"],
      ["id", { id: "x".repeat(65) }, "id: must be 1 to 64 of A-Z a-z 0-9 . _ -"],
      ["username", { username: "" }, "username: required"],
      ["username", { username: "bad--name" }, "username: must be 1 to 39 ASCII letters and digits"],
      ["username", { username: "\u212Aelvin" }, "username: must be 1 to 39 ASCII letters and digits"],
      ["email", { email: "" }, "email: required"],
      ["email", { email: "nobody@localhost" }, 'email: must be an email address: one "@"'],
      ["password", { password: "" }, "password: required"],
      ["password", { password: "short" }, "password: must be at least 8 characters"],
      ["password", { password: `${"é".repeat(36)}a` }, "password: must be at most 72 bytes of UTF-8"],
      ["password", { password: "password\u0000" }, "password: must not contain the NUL character"],
    ])("a bad %s is InvalidArgument naming it, and nothing is stored", async (_field, over, message) => {
      const input = account(over);
      const err = await failure(client.create(input));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain(message);
      const found = await client.search({
        username: input.username.slice(0, 39).replace(/[^A-Za-z0-9_-]/g, "") || "zz",
      });
      expect(found.users.filter((u) => u.username === input.username.toLowerCase())).toEqual([]);
    });

    test.each([
      ["id", (taken: { id: string; username: string; email: string }) => account({ id: taken.id })],
      ["username", (taken: { username: string }) => account({ username: taken.username.toUpperCase() })],
      ["email", (taken: { email: string }) => account({ email: ` ${taken.email.toUpperCase()} ` })],
    ])("a taken %s is AlreadyExists naming it (compared as stored)", async (field, clash) => {
      const { user } = await client.create(account({ id: `taken-${n}` }));
      const err = await failure(client.create(clash(user!)));
      expect(err.code).toBe(Code.AlreadyExists);
      expect(err.rawMessage).toBe(`${field}: already taken in this namespace`);
    });
  });

  describe("Read", () => {
    test("returns the user by id", async () => {
      const { user } = await client.create(account());
      expect((await client.read({ id: user!.id })).user).toEqual(user);
    });

    test("an unknown id is NotFound", async () => {
      const err = await failure(client.read({ id: "no-such-user" }));
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe("user not found");
    });

    test("an empty or malformed id is InvalidArgument", async () => {
      expect((await failure(client.read({ id: "" }))).rawMessage).toBe(
        "id: give exactly one of id, username or email (none was given)",
      );
      expect((await failure(client.read({ id: "a/b" }))).code).toBe(Code.InvalidArgument);
    });
  });

  describe("Update", () => {
    test("changes only the fields given; updated moves, created stays", async () => {
      const { user } = await client.create(account());
      s.clock.advance(60);
      const renamed = (await client.update({ id: user!.id, username: `Re${user!.username}` })).user!;
      expect(renamed).toMatchObject({ id: user!.id, username: `re${user!.username}`, email: user!.email });
      expect(renamed.created).toBe(user!.created);
      expect(renamed.updated).toBe(user!.updated + 60n);

      s.clock.advance(60);
      const moved = (await client.update({ id: user!.id, email: ` NEW-${user!.email.toUpperCase()}` })).user!;
      expect(moved).toMatchObject({ username: renamed.username, email: `new-${user!.email}` });
      expect(moved.updated).toBe(user!.updated + 120n);
      expect((await client.read({ id: user!.id })).user).toEqual(moved);
    });

    test("neither field: nothing changes, updated included; an unknown id is still NotFound", async () => {
      const { user } = await client.create(account());
      s.clock.advance(60);
      expect((await client.update({ id: user!.id })).user).toEqual(user);
      expect((await client.read({ id: user!.id })).user).toEqual(user);
      expect((await failure(client.update({ id: "no-such-user" }))).code).toBe(Code.NotFound);
    });

    test("both fields at once", async () => {
      const { user } = await client.create(account());
      const both = (await client.update({ id: user!.id, username: "both-changed", email: "both@changed.example" }))
        .user!;
      expect(both).toMatchObject({ username: "both-changed", email: "both@changed.example" });
    });

    test("its own username and email (in another case) are not a clash", async () => {
      const { user } = await client.create(account());
      const same = (
        await client.update({ id: user!.id, username: user!.username.toUpperCase(), email: user!.email.toUpperCase() })
      ).user!;
      expect(same).toMatchObject({ username: user!.username, email: user!.email });
    });

    test("another user's username or email is AlreadyExists naming it, and nothing changes", async () => {
      const { user: a } = await client.create(account());
      const { user: b } = await client.create(account());
      const byName = await failure(client.update({ id: b!.id, username: a!.username }));
      expect([byName.code, byName.rawMessage]).toEqual([
        Code.AlreadyExists,
        "username: already taken in this namespace",
      ]);
      const byEmail = await failure(client.update({ id: b!.id, email: a!.email }));
      expect([byEmail.code, byEmail.rawMessage]).toEqual([
        Code.AlreadyExists,
        "email: already taken in this namespace",
      ]);
      expect((await client.read({ id: b!.id })).user).toEqual(b);
    });

    test("an unknown id is NotFound; bad fields are InvalidArgument", async () => {
      expect((await failure(client.update({ id: "nobody-here", username: "valid" }))).code).toBe(Code.NotFound);
      const { user } = await client.create(account());
      const badName = await failure(client.update({ id: user!.id, username: "-bad" }));
      expect([badName.code, badName.rawMessage.split(":")[0]]).toEqual([Code.InvalidArgument, "username"]);
      const badEmail = await failure(client.update({ id: user!.id, email: "a@b" }));
      expect([badEmail.code, badEmail.rawMessage.split(":")[0]]).toEqual([Code.InvalidArgument, "email"]);
      expect((await failure(client.update({ id: "", username: "valid" }))).rawMessage).toBe("id: required");
    });

    test("the new username signs in; the old one no longer does", async () => {
      const input = account();
      const { user } = await client.create(input);
      await client.update({ id: user!.id, username: `${input.username}-new` });
      const { session } = await client.login({ username: `${input.username}-new`, password: input.password });
      expect(session!.userId).toBe(user!.id);
      expect((await failure(client.login({ username: input.username, password: input.password }))).code).toBe(
        Code.Unauthenticated,
      );
    });
  });

  describe("Delete", () => {
    test("removes the user, its password and its sessions; then NotFound", async () => {
      const input = account();
      const { user } = await client.create(input);
      const { session } = await client.login({ username: input.username, password: input.password });
      expect(await client.delete({ id: user!.id })).toMatchObject({});

      expect((await failure(client.read({ id: user!.id }))).code).toBe(Code.NotFound);
      expect(await s.repo.getCredential("default", user!.id)).toBeUndefined();
      expect((await failure(client.readSession({ sessionId: session!.id }))).code).toBe(Code.NotFound);
      const login = await failure(client.login({ username: input.username, password: input.password }));
      expect([login.code, login.rawMessage]).toEqual([Code.Unauthenticated, "invalid credentials"]);
      expect((await failure(client.delete({ id: user!.id }))).code).toBe(Code.NotFound);
    });

    test("its id, username and email are free again", async () => {
      const input = account({ id: `reused-${n}` });
      const { user } = await client.create(input);
      await client.delete({ id: user!.id });
      expect((await client.create(input)).user).toMatchObject({ id: input.id, username: input.username });
    });

    test("an unknown id is NotFound", async () => {
      const err = await failure(client.delete({ id: "never-existed" }));
      expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "user not found"]);
    });
  });
});

describe.each(ENGINES)("Search in process (%s)", (engine) => {
  let s: InProcess;
  let client: Client<typeof Users>;
  const names = (r: { users: Array<{ username: string }> }) => r.users.map((u) => u.username);

  beforeAll(async () => {
    s = await startInProcess({ engine });
    client = s.client();
    // Created out of id order, at distinct times, except two at the same second.
    const people: Array<[string, string, string]> = [
      ["u-3", "asim", "asim@example.com"],
      ["u-1", "ashley", "ashley@corp.example"],
      ["u-2", "bob", "bob@example.com"],
      ["u-9", "as_b", "asb@example.com"],
      ["u-5", "asb", "percent@example.com"],
    ];
    for (const [id, username, email] of people) {
      await client.create({ id, username, email, password: "password1" });
      s.clock.advance(1);
    }
    s.clock.advance(-1);
    await client.create({ id: "u-0", username: "zed", email: "zed@example.com", password: "password1" });
  });
  afterAll(() => s.close());

  test("neither prefix lists everyone, oldest first, then by id", async () => {
    expect(names(await client.search({}))).toEqual(["asim", "ashley", "bob", "as_b", "zed", "asb"]);
  });

  test("a username prefix matches case-insensitively", async () => {
    expect(names(await client.search({ username: "AS" }))).toEqual(["asim", "ashley", "as_b", "asb"]);
    expect(names(await client.search({ username: "asi" }))).toEqual(["asim"]);
  });

  test("an email prefix matches case-insensitively, after trimming", async () => {
    expect(names(await client.search({ email: " ASIM@" }))).toEqual(["asim"]);
    expect(names(await client.search({ email: "b" }))).toEqual(["bob"]);
  });

  test("with both prefixes, both must match", async () => {
    expect(names(await client.search({ username: "as", email: "a" }))).toEqual(["asim", "ashley", "as_b"]);
    expect(names(await client.search({ username: "bo", email: "asim" }))).toEqual([]);
  });

  test("_ and % are literal characters, not wildcards", async () => {
    expect(names(await client.search({ username: "as_" }))).toEqual(["as_b"]);
    expect(names(await client.search({ email: "%" }))).toEqual([]);
  });

  test("limit and offset page through the results", async () => {
    expect(names(await client.search({ limit: 2n }))).toEqual(["asim", "ashley"]);
    expect(names(await client.search({ limit: 2n, offset: 2n }))).toEqual(["bob", "as_b"]);
    expect(names(await client.search({ limit: 2n, offset: 6n }))).toEqual([]);
    expect(names(await client.search({ limit: 1000n }))).toHaveLength(6);
  });

  test.each([
    [{ limit: 1001n }, "limit: must be from 0 to 1000"],
    [{ limit: -1n }, "limit: must be from 0 to 1000"],
    [{ offset: -1n }, "offset: must be from 0"],
    [{ username: "a.b" }, "username: "],
    [{ email: "e".repeat(255) }, "email: must be at most 254 characters"],
  ])("%j is InvalidArgument", async (query, message) => {
    const err = await failure(client.search(query));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain(message);
  });

  test("the default limit is 25", async () => {
    for (let i = 0; i < 25; i++) {
      await client.create({ username: `many${i}`, email: `many${i}@example.com`, password: "password1" });
    }
    expect(names(await client.search({ username: "many" }))).toHaveLength(25);
    expect(names(await client.search({}))).toHaveLength(25);
    expect(names(await client.search({ limit: 100n }))).toHaveLength(31);
  });
});
