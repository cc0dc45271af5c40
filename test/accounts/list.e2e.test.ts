// List on both engines over every protocol: keyset paging by an opaque token
// that stays stable while users are created and deleted between pages, an
// offset that works (M3O's ignored it), bounds and bad tokens with their
// reasons, and no public key.
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, type Protocol, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { errorOf, expectedError, okCall } from "./support.js";

describe.each(ENGINES)("List (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let n = 0;

  beforeAll(async () => {
    t = await startTestServer({ engine });
    wire = new Wire(t.url);
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  const admin = (namespace: string) => ({ authorization: `Bearer ${t.adminKey}`, "micro-namespace": namespace });
  async function create(namespace: string): Promise<string> {
    const name = `lister${++n}`;
    const request = { username: name, email: `${name}@example.com`, password: "password-123" };
    return ((await okCall(wire, "connect-json", "create", request, admin(namespace))).user as JsonObject).id as string;
  }
  async function page(protocol: Protocol, namespace: string, request: JsonObject) {
    const answer = await okCall(wire, protocol, "list", request, admin(namespace));
    return {
      ids: ((answer.users as JsonObject[] | undefined) ?? []).map((u) => u.id as string),
      next: (answer.nextPageToken as string | undefined) ?? "",
    };
  }

  test.each(PROTOCOLS)("%s: pages by token cover every user once, oldest first; offset skips", async (protocol) => {
    const ns = `list-${protocol}`;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await create(ns));
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const p = await page(protocol, ns, { limit: 3, pageToken: token });
      seen.push(...p.ids);
      token = p.next;
      pages++;
    } while (token !== "");
    expect(seen).toEqual(ids);
    expect(pages).toBe(3); // 3 + 3 + 1, the last without a token
    // Exactly a page's worth: no token, since nothing follows.
    expect(await page(protocol, ns, { limit: 7 })).toEqual({ ids, next: "" });
    expect((await page(protocol, ns, {})).ids).toEqual(ids); // limit 0: the default of 25
    expect((await page(protocol, ns, { offset: 2, limit: 3 })).ids).toEqual(ids.slice(2, 5));
    const first = await page(protocol, ns, { limit: 2 });
    expect((await page(protocol, ns, { offset: 1, limit: 2, pageToken: first.next })).ids).toEqual(ids.slice(3, 5));
    expect((await page(protocol, ns, { offset: 10 })).ids).toEqual([]);
  });

  test.each(PROTOCOLS)(
    "%s: users created and deleted between pages: each user present throughout comes exactly once",
    async (protocol) => {
      const ns = `churn-${protocol}`;
      const initial: string[] = [];
      for (let i = 0; i < 24; i++) initial.push(await create(ns));
      const deleted = new Set<string>();
      const seen: string[] = [];
      let token = "";
      let round = 0;
      do {
        const p = await page(protocol, ns, { limit: 4, pageToken: token });
        seen.push(...p.ids);
        token = p.next;
        // Between pages: two new users, and one deleted behind the cursor and one ahead of it.
        await create(ns);
        await create(ns);
        const behind = seen.find((id) => !deleted.has(id));
        const ahead = initial.filter((id) => !seen.includes(id) && !deleted.has(id))[round % 3];
        for (const id of [behind, ahead]) {
          if (!id) continue;
          await okCall(wire, "connect-json", "delete", { id }, admin(ns));
          deleted.add(id);
        }
        round++;
      } while (token !== "" && round < 100);
      expect(token).toBe("");
      expect(new Set(seen).size).toBe(seen.length); // none repeated
      const throughout = initial.filter((id) => !deleted.has(id));
      expect(throughout.length).toBeGreaterThan(10);
      expect(throughout.filter((id) => !seen.includes(id))).toEqual([]); // none missed
    },
  );

  test.each(PROTOCOLS)("%s: bad page tokens and bounds are InvalidArgument with their reasons", async (protocol) => {
    const ns = `bad-${protocol}`;
    await create(ns);
    await create(ns);
    const { next } = await page(protocol, ns, { limit: 1 });
    const tampered = Buffer.from(`${Buffer.from(next, "base64url").toString()}/x`).toString("base64url");
    for (const pageToken of [
      "not a token!",
      "x".repeat(129),
      Buffer.from("u1.12.").toString("base64url"),
      Buffer.from("u2.12.abc").toString("base64url"),
      Buffer.from("u1.-1.abc").toString("base64url"),
      Buffer.from("u1.99999999999999999.abc").toString("base64url"),
      tampered,
    ]) {
      const answer = await rpc(wire, protocol, "list", { pageToken }, admin(ns));
      expect({ pageToken, ...errorOf(protocol, answer) }).toEqual({
        pageToken,
        ...expectedError(protocol, "invalid_argument", "PAGE_TOKEN_INVALID"),
      });
      expect(answer.message).toBe("page_token: not a page token this service issued; start again without one");
    }
    for (const [request, message] of [
      [{ limit: 1001 }, "limit: must be from 0 to 1000 (0 means 25)"],
      [{ limit: -1 }, "limit: must be from 0 to 1000 (0 means 25)"],
      [{ offset: 10_001 }, "offset: must be from 0 to 10000"],
      [{ offset: -1 }, "offset: must be from 0 to 10000"],
    ] as Array<[JsonObject, string]>) {
      const answer = await rpc(wire, protocol, "list", request, admin(ns));
      expect({ message: answer.message, ...errorOf(protocol, answer) }).toEqual({
        message,
        ...expectedError(protocol, "invalid_argument", "FIELD_OUT_OF_RANGE"),
      });
    }
  });

  test("a namespace's List shows only its own users; a public key may not List", async () => {
    const mine = await create("list-own");
    await create("list-other");
    expect((await page("connect-json", "list-own", {})).ids).toEqual([mine]);
    const { key } = await t.server.keys.create("list-own", "app", "public");
    for (const protocol of PROTOCOLS) {
      const answer = await rpc(wire, protocol, "list", {}, { authorization: `Bearer ${key}` });
      expect(errorOf(protocol, answer)).toEqual(expectedError(protocol, "permission_denied", "ROLE_FORBIDDEN"));
    }
  });
});
