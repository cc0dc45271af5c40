// Sign-in and sessions in process: Login, ReadSession, Logout, ListSessions,
// RevokeSessions, expiry (by a test clock) and login throttling.
import { createHash } from "node:crypto";
import { type Client, Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { failure } from "../support/errors.js";
import { type InProcess, startInProcess } from "../support/services.js";

const TTL = 3600;
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

describe.each(ENGINES)("sessions in process (%s)", (engine) => {
  let s: InProcess;
  let client: Client<typeof Users>;
  let n = 0;
  /** A new user; returns what it was created with and its id. */
  const newUser = async (password = "password1") => {
    n++;
    const input = { username: `person${n}`, email: `person${n}@example.com`, password };
    const { user } = await client.create(input);
    return { ...input, id: user!.id };
  };

  beforeAll(async () => {
    s = await startInProcess({ engine, sessionTtlSeconds: TTL });
    client = s.client();
  });
  afterAll(() => s.close());

  describe("Login", () => {
    test("by username, case-insensitively: a 256-bit session that lasts SESSION_TTL_SECONDS", async () => {
      const u = await newUser();
      const { session } = await client.login({ username: u.username.toUpperCase(), password: u.password });
      expect(session!.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(session!.id, "base64url")).toHaveLength(32);
      expect(session).toMatchObject({
        userId: u.id,
        username: u.username,
        email: u.email,
        created: BigInt(s.clock.seconds()),
        expires: BigInt(s.clock.seconds() + TTL),
      });
    });

    test("by email, case-insensitively and trimmed", async () => {
      const u = await newUser();
      const { session } = await client.login({ email: ` ${u.email.toUpperCase()} `, password: u.password });
      expect(session!.userId).toBe(u.id);
    });

    test("the username is used when both are given", async () => {
      const u = await newUser();
      const { session } = await client.login({
        username: u.username,
        email: "someone-else@example.com",
        password: u.password,
      });
      expect(session!.userId).toBe(u.id);
    });

    test("each login is a new session, stored only as its SHA-256", async () => {
      const u = await newUser();
      const a = (await client.login({ username: u.username, password: u.password })).session!;
      const b = (await client.login({ username: u.username, password: u.password })).session!;
      expect(a.id).not.toBe(b.id);
      expect(await s.repo.getSession("default", sha256(a.id), s.clock.now())).toMatchObject({ userId: u.id });
      expect(await s.repo.getSession("default", Buffer.from(a.id), s.clock.now())).toBeUndefined();
    });

    test("the password is compared after NFC normalisation", async () => {
      const u = await newUser("cafe\u0301-cre\u0300me");
      const { session } = await client.login({ username: u.username, password: "caf\u00e9-cr\u00e8me" });
      expect(session!.userId).toBe(u.id);
    });

    test("an unknown user and a wrong password give the same Unauthenticated", async () => {
      const u = await newUser();
      const wrong = await failure(client.login({ username: u.username, password: "wrong password" }));
      const unknownName = await failure(client.login({ username: "no-such-person", password: "wrong password" }));
      const unknownEmail = await failure(client.login({ email: "nobody@example.com", password: u.password }));
      const short = await failure(client.login({ username: u.username, password: "short" }));
      for (const err of [wrong, unknownName, unknownEmail, short]) {
        expect([err.code, err.rawMessage]).toEqual([Code.Unauthenticated, "invalid credentials"]);
      }
    });

    test("without a username or an email, or without a password, it is InvalidArgument", async () => {
      const none = await failure(client.login({ password: "password1" }));
      expect([none.code, none.rawMessage]).toEqual([Code.InvalidArgument, "username: give a username or an email"]);
      const noPassword = await failure(client.login({ username: "someone" }));
      expect([noPassword.code, noPassword.rawMessage]).toEqual([Code.InvalidArgument, "password: required"]);
      const nul = await failure(client.login({ username: "someone", password: "pass\u0000word" }));
      expect(nul.code).toBe(Code.InvalidArgument);
    });
  });

  describe("ReadSession", () => {
    test("echoes the session with the user's current username and email", async () => {
      const u = await newUser();
      const { session } = await client.login({ username: u.username, password: u.password });
      await client.update({ id: u.id, username: `${u.username}-renamed`, email: `renamed-${u.email}` });
      const read = (await client.readSession({ sessionId: session!.id })).session!;
      expect(read).toEqual({ ...session, username: `${u.username}-renamed`, email: `renamed-${u.email}` });
    });

    test("an unknown session is NotFound; an empty id is InvalidArgument", async () => {
      const err = await failure(client.readSession({ sessionId: "A".repeat(43) }));
      expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "session not found"]);
      expect((await failure(client.readSession({ sessionId: "" }))).code).toBe(Code.InvalidArgument);
    });

    test("a session is readable until its expiry, and NotFound from then on", async () => {
      const u = await newUser();
      const { session } = await client.login({ username: u.username, password: u.password });
      s.clock.advance(TTL - 1);
      expect((await client.readSession({ sessionId: session!.id })).session!.id).toBe(session!.id);
      s.clock.advance(1);
      expect((await failure(client.readSession({ sessionId: session!.id }))).code).toBe(Code.NotFound);
    });
  });

  describe("Logout", () => {
    test("ends that session only, and is idempotent", async () => {
      const u = await newUser();
      const a = (await client.login({ username: u.username, password: u.password })).session!;
      const b = (await client.login({ username: u.username, password: u.password })).session!;
      await client.logout({ sessionId: a.id });
      await client.logout({ sessionId: a.id });
      expect((await failure(client.readSession({ sessionId: a.id }))).code).toBe(Code.NotFound);
      expect((await client.readSession({ sessionId: b.id })).session!.id).toBe(b.id);
    });

    test("an unknown or expired session logs out fine", async () => {
      await client.logout({ sessionId: "never-issued" });
      const u = await newUser();
      const { session } = await client.login({ username: u.username, password: u.password });
      s.clock.advance(TTL + 10);
      await client.logout({ sessionId: session!.id });
    });
  });

  describe("ListSessions and RevokeSessions", () => {
    test("lists live sessions newest first by handle (hex SHA-256), never by id", async () => {
      const u = await newUser();
      const old = (await client.login({ username: u.username, password: u.password })).session!;
      s.clock.advance(TTL - 5);
      const mid = (await client.login({ username: u.username, password: u.password })).session!;
      s.clock.advance(1);
      const fresh = (await client.login({ username: u.username, password: u.password })).session!;
      const listed = (await client.listSessions({ userId: u.id })).sessions;
      expect(listed.map((x) => x.handle)).toEqual([fresh, mid, old].map((x) => sha256(x.id).toString("hex")));
      expect(listed[0]).toMatchObject({ created: fresh.created, expires: fresh.expires });
      expect(JSON.stringify(listed, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
        fresh.id,
      );

      s.clock.advance(5); // the oldest has expired
      expect((await client.listSessions({ userId: u.id })).sessions.map((x) => x.handle)).toEqual(
        [fresh, mid].map((x) => sha256(x.id).toString("hex")),
      );
    });

    test("a handle cannot be used as a session id", async () => {
      const u = await newUser();
      await client.login({ username: u.username, password: u.password });
      const [info] = (await client.listSessions({ userId: u.id })).sessions;
      expect((await failure(client.readSession({ sessionId: info!.handle }))).code).toBe(Code.NotFound);
    });

    test("revokes the sessions named, or all of them", async () => {
      const u = await newUser();
      const ids = [];
      for (let i = 0; i < 3; i++)
        ids.push((await client.login({ username: u.username, password: u.password })).session!.id);
      const handle = sha256(ids[0]!).toString("hex");
      expect((await client.revokeSessions({ userId: u.id, handles: [handle] })).revoked).toBe(1n);
      expect((await client.revokeSessions({ userId: u.id, handles: [handle] })).revoked).toBe(0n);
      expect((await failure(client.readSession({ sessionId: ids[0]! }))).code).toBe(Code.NotFound);
      expect((await client.readSession({ sessionId: ids[1]! })).session!.userId).toBe(u.id);

      expect((await client.revokeSessions({ userId: u.id })).revoked).toBe(2n);
      expect((await client.listSessions({ userId: u.id })).sessions).toEqual([]);
      for (const id of ids) expect((await failure(client.readSession({ sessionId: id }))).code).toBe(Code.NotFound);
    });

    test("another user's session handle is not revoked", async () => {
      const a = await newUser();
      const b = await newUser();
      const theirs = (await client.login({ username: b.username, password: b.password })).session!;
      const handle = sha256(theirs.id).toString("hex");
      expect((await client.revokeSessions({ userId: a.id, handles: [handle] })).revoked).toBe(0n);
      expect((await client.readSession({ sessionId: theirs.id })).session!.userId).toBe(b.id);
    });

    test("an unknown user is NotFound; a malformed handle or user id is InvalidArgument", async () => {
      expect((await failure(client.listSessions({ userId: "nobody-at-all" }))).code).toBe(Code.NotFound);
      expect((await failure(client.revokeSessions({ userId: "nobody-at-all" }))).code).toBe(Code.NotFound);
      const u = await newUser();
      const bad = await failure(client.revokeSessions({ userId: u.id, handles: ["not-a-handle"] }));
      expect([bad.code, bad.rawMessage.split(":")[0]]).toEqual([Code.InvalidArgument, "handles"]);
      expect((await failure(client.listSessions({ userId: "" }))).rawMessage).toBe("user_id: required");
    });
  });
});

describe.each(ENGINES)("login throttling in process (%s)", (engine) => {
  let s: InProcess;
  let client: Client<typeof Users>;

  beforeAll(async () => {
    s = await startInProcess({ engine, loginMaxFailures: 3, loginLockoutBaseSeconds: 10, loginLockoutMaxSeconds: 30 });
    client = s.client();
    await client.create({ username: "target", email: "target@example.com", password: "password1" });
  });
  afterAll(() => s.close());

  const attempt = (password: string) => client.login({ username: "target", password });

  test("after the allowed failures the account is locked, even for the right password, with retry-after", async () => {
    for (let i = 0; i < 3; i++) expect((await failure(attempt("wrong-guess"))).code).toBe(Code.Unauthenticated);
    const locked = await failure(attempt("password1"));
    expect(locked.code).toBe(Code.ResourceExhausted);
    expect(locked.rawMessage).toBe("too many failed attempts for this account; retry in 10 s");
    expect(locked.metadata.get("retry-after")).toBe("10");
    // The guesses were at the user, not only at the username: signing in by email is locked too.
    const byEmail = await failure(client.login({ email: "target@example.com", password: "password1" }));
    expect([byEmail.code, byEmail.metadata.get("retry-after")]).toEqual([Code.ResourceExhausted, "10"]);
  });

  test("the lock doubles with each further failure, up to the ceiling", async () => {
    s.clock.advance(10);
    await failure(attempt("wrong-guess"));
    expect((await failure(attempt("password1"))).metadata.get("retry-after")).toBe("20");
    s.clock.advance(20);
    await failure(attempt("wrong-guess"));
    expect((await failure(attempt("password1"))).metadata.get("retry-after")).toBe("30");
  });

  test("once the lock ends, the right password signs in and clears the count", async () => {
    s.clock.advance(30);
    expect((await attempt("password1")).session).toBeDefined();
    expect((await failure(attempt("wrong-guess"))).code).toBe(Code.Unauthenticated);
    expect((await attempt("password1")).session).toBeDefined();
  });

  test("what was typed as the account is stored only as its SHA-256 (a password typed as a username stays unreadable)", async () => {
    const typed = "correcthorsebattery9";
    expect((await failure(client.login({ username: typed, password: "password1" }))).code).toBe(Code.Unauthenticated);
    expect(await s.repo.getLoginThrottle("default", `username:${typed}`)).toBeUndefined();
    const stored = sha256(`username:${typed}`).toString("hex");
    expect(await s.repo.getLoginThrottle("default", stored)).toEqual({ failures: 1, lockedUntilMs: 0 });
  });

  test("unknown accounts are throttled exactly like known ones", async () => {
    const ghost = () => client.login({ username: "ghost", password: "whatever1" });
    for (let i = 0; i < 3; i++) expect((await failure(ghost())).code).toBe(Code.Unauthenticated);
    expect((await failure(ghost())).code).toBe(Code.ResourceExhausted);
  });

  test("a lock in one namespace does not lock the same name in another", async () => {
    const other = s.client({ namespace: "other-tenant" });
    await other.create({ username: "ghost", email: "ghost@example.com", password: "password1" });
    expect((await other.login({ username: "ghost", password: "password1" })).session).toBeDefined();
  });
});

describe.each(ENGINES)("a busy hashing queue in process (%s)", (engine) => {
  let s: InProcess;
  let client: Client<typeof Users>;

  beforeAll(async () => {
    // One hash at a time and no waiting line: a second login is refused while one runs.
    s = await startInProcess({ engine, hashConcurrency: 1, hashQueueMax: 0 });
    client = s.client();
  });
  afterAll(() => s.close());

  test("logins refused because hashing is busy are not counted as failed guesses", async () => {
    await client.create({ username: "victim", email: "victim@example.com", password: "password1" });
    let open!: () => void;
    const holding = s.hasher.queue.run(() => new Promise<void>((resolve) => (open = resolve)));
    for (let i = 0; i < 8; i++) {
      for (const call of [
        client.login({ username: "victim", password: "password1" }),
        client.updatePassword({
          userId: "nobody",
          oldPassword: "password1",
          newPassword: "password2",
          confirmPassword: "password2",
        }),
      ]) {
        const err = await failure(call);
        expect([err.code, err.rawMessage]).toEqual([
          Code.ResourceExhausted,
          "the service is busy hashing passwords; retry shortly",
        ]);
      }
    }
    open();
    await holding;
    // More busy refusals than LOGIN_MAX_FAILURES, and the account is not locked.
    expect((await client.login({ username: "victim", password: "password1" })).session).toBeDefined();
  });
});
