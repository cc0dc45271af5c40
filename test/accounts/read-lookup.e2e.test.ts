// Read by id, username or email (exactly one), on both engines over every
// protocol; and a public key's Read, whose proof is checked against the user
// found, so naming another user by username or email reads nothing.
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { errorOf, expectedError, okCall } from "./support.js";

describe.each(ENGINES)("Read by id, username or email (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;
  let publicKey: string;
  let ada: { id: string; session: string };
  let bob: { id: string };

  beforeAll(async () => {
    t = await startTestServer({ engine });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}`, "micro-namespace": "alpha" };
    const created = async (username: string) =>
      (
        (
          await okCall(
            wire,
            "connect-json",
            "create",
            { username, email: `${username}@Example.com`, password: "password-123" },
            admin,
          )
        ).user as JsonObject
      ).id as string;
    ada = { id: await created("ada"), session: "" };
    bob = { id: await created("bob") };
    const login = await okCall(wire, "connect-json", "login", { username: "ada", password: "password-123" }, admin);
    ada.session = (login.session as JsonObject).id as string;
    publicKey = (await t.server.keys.create("alpha", "app", "public")).key;
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  test.each(PROTOCOLS)("%s: each of id, username and email finds the user (case-insensitively)", async (protocol) => {
    for (const request of [{ id: ada.id }, { username: "ADA" }, { email: " Ada@EXAMPLE.com " }] as JsonObject[]) {
      const user = (await okCall(wire, protocol, "read", request, admin)).user as JsonObject;
      expect({ request, id: user.id, username: user.username, email: user.email }).toEqual({
        request,
        id: ada.id,
        username: "ada",
        email: "ada@example.com",
      });
    }
  });

  test.each(PROTOCOLS)("%s: none or several of them is InvalidArgument ONE_OF_FIELDS naming them", async (protocol) => {
    for (const [request, named] of [
      [{}, "none was given"],
      [{ id: ada.id, username: "ada" }, "id, username were given"],
      [{ username: "ada", email: "ada@example.com" }, "username, email were given"],
      [{ id: ada.id, username: "ada", email: "ada@example.com" }, "id, username, email were given"],
    ] as const) {
      const answer = await rpc(wire, protocol, "read", request, admin);
      expect({ request, ...errorOf(protocol, answer) }).toEqual({
        request,
        ...expectedError(protocol, "invalid_argument", "ONE_OF_FIELDS"),
      });
      expect(answer.message).toContain(`give exactly one of id, username or email (${named})`);
    }
  });

  test.each(PROTOCOLS)(
    "%s: a malformed value is its field's own error; an unknown one is NotFound",
    async (protocol) => {
      const bad = await rpc(wire, protocol, "read", { email: "not-an-email" }, admin);
      expect(errorOf(protocol, bad)).toEqual(expectedError(protocol, "invalid_argument", "FIELD_MALFORMED"));
      expect(bad.message).toMatch(/^email: must be an email address/);
      const longName = await rpc(wire, protocol, "read", { username: "x".repeat(40) }, admin);
      expect(errorOf(protocol, longName)).toEqual(expectedError(protocol, "invalid_argument", "FIELD_MALFORMED"));
      for (const request of [
        { username: "nobody" },
        { email: "nobody@example.com" },
        { id: "nobody" },
      ] as JsonObject[]) {
        const answer = await rpc(wire, protocol, "read", request, admin);
        expect({ request, ...errorOf(protocol, answer) }).toEqual({
          request,
          ...expectedError(protocol, "not_found", "USER_NOT_FOUND"),
        });
      }
    },
  );

  test.each(PROTOCOLS)(
    "%s: a public key reads its own user by any field, and nobody else's, whatever it names",
    async (protocol) => {
      const own = { authorization: `Bearer ${publicKey}`, "x-session-id": ada.session };
      for (const request of [{ id: ada.id }, { username: "ada" }, { email: "ada@example.com" }] as JsonObject[]) {
        const user = (await okCall(wire, protocol, "read", request, own)).user as JsonObject;
        expect(user.id).toBe(ada.id);
      }
      // Bob by any field, an unknown user, and Ada without a session: the same PermissionDenied.
      for (const [request, headers] of [
        [{ id: bob.id }, own],
        [{ username: "bob" }, own],
        [{ email: "bob@example.com" }, own],
        [{ username: "nobody" }, own],
        [{ email: "nobody@example.com" }, own],
        [{ username: "ada" }, { authorization: `Bearer ${publicKey}` }],
        [{ username: "ada" }, { authorization: `Bearer ${publicKey}`, "x-session-id": "A".repeat(43) }],
      ] as const) {
        const answer = await rpc(wire, protocol, "read", request, headers);
        expect({ request, ...errorOf(protocol, answer) }).toEqual({
          request,
          ...expectedError(protocol, "permission_denied", "SESSION_PROOF_REQUIRED"),
        });
      }
    },
  );
});
