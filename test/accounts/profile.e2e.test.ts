// User profiles on both engines over every protocol: set at Create, merged by
// Update (an empty value removes a key, an omitted profile changes nothing),
// bounded (entries, key shape, value size) with clear reasons, never lost to
// concurrent edits of other keys; Update accepts the user's own current email
// and a no-change (keeping `verified`); and `users export`/`users import`
// carry the profile and the verification along.
import fs from "node:fs";
import path from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { runCli } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl, tempDir } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { errorOf, expectedError, okCall } from "./support.js";

describe.each(ENGINES)("user profiles (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  let n = 0;

  beforeAll(async () => {
    t = await startTestServer({ engine });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  async function create(profile: Record<string, string>, protocol = PROTOCOLS[0]!) {
    const name = `person${++n}`;
    const request = { username: name, email: `${name}@example.com`, password: "password-123", profile };
    return (await okCall(wire, protocol, "create", request, admin)).user as JsonObject;
  }
  const read = async (id: string, protocol = PROTOCOLS[0]!) =>
    (await okCall(wire, protocol, "read", { id }, admin)).user as JsonObject;
  const update = async (request: JsonObject, protocol = PROTOCOLS[0]!) =>
    (await okCall(wire, protocol, "update", request, admin)).user as JsonObject;

  test.each(PROTOCOLS)("%s: Create stores the profile (empty values left out); Read returns it", async (protocol) => {
    const user = await create({ name: "Ada Lovelace", locale: "en-GB", "a.b_c-9": "ü ✓", blank: "" }, protocol);
    const expected = { name: "Ada Lovelace", locale: "en-GB", "a.b_c-9": "ü ✓" };
    expect(user.profile).toEqual(expected);
    expect((await read(user.id as string, protocol)).profile).toEqual(expected);
    if (protocol === "m3o") {
      const raw = await rpc(wire, protocol, "read", { id: user.id as string }, admin);
      expect(JSON.parse(raw.body.toString("utf8")).user.profile).toEqual(expected);
    }
  });

  test.each(PROTOCOLS)(
    "%s: a profile-only Update merges; an empty value removes a key; an omitted profile changes nothing",
    async (protocol) => {
      const user = await create({ name: "Ada", locale: "en", team: "blue" });
      const id = user.id as string;
      const merged = await update({ id, profile: { locale: "fr", city: "Paris", team: "" } }, protocol);
      expect(merged.profile).toEqual({ name: "Ada", locale: "fr", city: "Paris" });
      expect(merged.username).toBe(user.username);
      // Username only: the profile stays whole (M3O's Update wiped it).
      const renamed = await update({ id, username: `${user.username as string}x` }, protocol);
      expect(renamed.profile).toEqual({ name: "Ada", locale: "fr", city: "Paris" });
      // Removing every key leaves an empty profile.
      const emptied = await update({ id, profile: { name: "", locale: "", city: "", absent: "" } }, protocol);
      expect(emptied.profile ?? {}).toEqual({});
      expect((await read(id, protocol)).profile ?? {}).toEqual({});
    },
  );

  test.each(PROTOCOLS)("%s: bad profiles are InvalidArgument naming the rule", async (protocol) => {
    const user = await create({});
    const id = user.id as string;
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    for (const [profile, reason, message] of [
      [many, "FIELD_TOO_LONG", "profile: at most 32 entries"],
      [{ "bad key": "v" }, "FIELD_MALFORMED", "profile: each key is 1 to 64 of A-Z a-z 0-9 . _ -"],
      [{ ["k".repeat(65)]: "v" }, "FIELD_MALFORMED", "profile: each key is 1 to 64 of A-Z a-z 0-9 . _ -"],
      [{ bio: "é".repeat(513) }, "FIELD_TOO_LONG", "profile.bio: must be at most 1024 bytes of UTF-8"],
      [{ bio: "a\u0000b" }, "FIELD_MALFORMED", "profile.bio: must not contain the NUL character"],
    ] as Array<[Record<string, string>, string, string]>) {
      for (const method of ["create", "update"] as const) {
        const request: JsonObject =
          method === "create"
            ? { username: `bad${++n}`, email: `bad${n}@example.com`, password: "password-123", profile }
            : { id, profile };
        const answer = await rpc(wire, protocol, method, request, admin);
        expect({ method, message: answer.message, ...errorOf(protocol, answer) }).toEqual({
          method,
          message,
          ...expectedError(protocol, "invalid_argument", reason),
        });
      }
    }
    // 1024 bytes exactly and 32 entries exactly are fine; a merge past 32 is refused and changes nothing.
    const full = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, "v"]));
    await update({ id, profile: { ...full, bio: "é".repeat(512) } }, protocol);
    const over = await rpc(wire, protocol, "update", { id, profile: { extra: "1" } }, admin);
    expect({ message: over.message, ...errorOf(protocol, over) }).toEqual({
      message: "profile: at most 32 entries (this update would leave 33)",
      ...expectedError(protocol, "invalid_argument", "FIELD_TOO_LONG"),
    });
    expect(Object.keys((await read(id)).profile as JsonObject)).toHaveLength(32);
    // Replacing one entry and adding another in one edit stays at 32: allowed.
    const swapped = await update({ id, profile: { k0: "", extra: "1" } }, protocol);
    expect(Object.keys(swapped.profile as JsonObject)).toHaveLength(32);
  });

  test("concurrent edits of different keys all land; none is lost", async () => {
    const user = await create({ base: "1" });
    const id = user.id as string;
    const edits = Array.from({ length: 12 }, (_, i) => ({ id, profile: { [`key${i}`]: `value${i}` } }));
    await Promise.all(edits.map((edit, i) => update(edit, PROTOCOLS[i % PROTOCOLS.length]!)));
    const expected = Object.fromEntries([["base", "1"], ...edits.map((_, i) => [`key${i}`, `value${i}`])]);
    expect((await read(id)).profile).toEqual(expected);
  });

  /** A verified user with a profile, as `users import` brings one in from another system. */
  async function importVerified(id: string) {
    const file = path.join(tempDir(), "verified.jsonl");
    const { hash } = await hashOf("password-123");
    const line = {
      id,
      username: id.replace("-", ""),
      email: `${id}@example.com`,
      password_hash: hash,
      verified_ms: 1_700_000_000_000,
      profile: { name: "V" },
    };
    fs.writeFileSync(file, `${JSON.stringify(line)}\n`);
    const imported = await runCli(["users", "import", file], { DATABASE_URL: t.config.databaseUrl, BCRYPT_COST: "4" });
    expect(imported.stderr).toContain("1 imported");
  }

  test("Update refuses neither the user's own current email nor a no-change, and keeps verified; a new email clears it", async () => {
    await importVerified("verified-1");
    for (const protocol of PROTOCOLS) {
      for (const request of [
        { id: "verified-1", email: "Verified-1@Example.com" },
        { id: "verified-1", username: "verified1", email: "verified-1@example.com" },
        { id: "verified-1" },
      ]) {
        const user = await update(request as JsonObject, protocol);
        expect({ protocol, request, verified: user.verified, date: user.verificationDate }).toEqual({
          protocol,
          request,
          verified: true,
          date: "1700000000",
        });
      }
    }
    const moved = await update({ id: "verified-1", email: "elsewhere@example.com" });
    expect(moved.verified).toBeUndefined();
    expect(moved.profile).toEqual({ name: "V" });
  });

  test("users export then users import keep the profile and the verification", async () => {
    const user = await create({ name: "Exported", locale: "de" });
    await importVerified("verified-2");
    const dir = tempDir();
    const file = path.join(dir, "users.jsonl");
    const exported = await runCli(["users", "export", file], { DATABASE_URL: t.config.databaseUrl });
    expect(exported.code).toBe(0);
    const lines = fs
      .readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as JsonObject);
    expect(lines.find((l) => l.id === user.id)).toMatchObject({ profile: { name: "Exported", locale: "de" } });
    expect(lines.find((l) => l.id === "verified-2")).toMatchObject({ verified_ms: 1_700_000_000_000 });

    const other = await freshDatabaseUrl(engine);
    expect((await runCli(["users", "import", file], { DATABASE_URL: other })).code).toBe(0);
    const moved = await startTestServer({ databaseUrl: other });
    const movedWire = new Wire(moved.url);
    try {
      const headers = { authorization: `Bearer ${moved.adminKey}` };
      const copy = (await okCall(movedWire, "m3o", "read", { id: user.id as string }, headers)).user as JsonObject;
      expect(copy.profile).toEqual({ name: "Exported", locale: "de" });
      const verified = (await okCall(movedWire, "m3o", "read", { id: "verified-2" }, headers)).user as JsonObject;
      expect([verified.verified, verified.verificationDate]).toEqual([true, "1700000000"]);
    } finally {
      movedWire.close();
      await moved.close();
    }
  });
});

/** A bcrypt hash at cost 4 for an import line. */
async function hashOf(password: string): Promise<{ hash: string }> {
  const { default: bcrypt } = await import("bcrypt");
  return { hash: await bcrypt.hash(password, 4) };
}
