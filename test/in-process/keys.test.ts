// API keys and who a call is made for: KeysService over a real database, and
// resolveCaller (the auth interceptor's rule for keys and namespaces).
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ServiceError } from "../../src/service/errors.js";
import { KeysService } from "../../src/service/keys.js";
import { resolveCaller } from "../../src/transport/auth-interceptor.js";
import { ENGINES } from "../support/databases.js";
import { type InProcess, startInProcess } from "../support/services.js";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

async function refusal(call: Promise<unknown>): Promise<ServiceError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ServiceError);
  return err as ServiceError;
}

describe.each(ENGINES)("API keys (%s)", (engine) => {
  let s: InProcess;
  let keys: KeysService;

  beforeAll(async () => {
    s = await startInProcess({ engine });
    keys = s.keys;
  });
  afterAll(() => s.close());

  test("a key is a prefixed 256-bit secret, stored only as its SHA-256", async () => {
    const created = await keys.create("acme", "ci");
    expect(created.key).toMatch(/^usk_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ id: expect.stringMatching(/^key_[0-9a-f]{16}$/), namespace: "acme" });
    expect(await s.repo.findApiKey(sha256(created.key))).toMatchObject({
      id: created.id,
      namespace: "acme",
      label: "ci",
    });
    const exported = JSON.stringify(await s.repo.exportApiKeys());
    expect(exported).not.toContain(created.key);
    expect(exported).not.toContain(created.key.slice(4));
  });

  test("authenticate finds live keys only", async () => {
    const admin = await keys.create(null);
    expect(await keys.authenticate(admin.key)).toMatchObject({ id: admin.id, namespace: null });
    expect(await keys.authenticate("usk_not-a-key")).toBeUndefined();
    expect(await keys.authenticate("")).toBeUndefined();
    expect(await keys.authenticate(admin.key + "x".repeat(256))).toBeUndefined();
  });

  test("a revoked key stops at once on this replica, and within the cache time on another", async () => {
    const other = new KeysService({ repo: s.repo, now: s.clock.now, cacheSeconds: 5 });
    const { id, key } = await keys.create("acme");
    expect(await keys.authenticate(key)).toBeDefined();
    expect(await other.authenticate(key)).toBeDefined();
    await keys.revoke(id);
    expect(await keys.authenticate(key)).toBeUndefined();
    expect(await other.authenticate(key)).toBeDefined();
    s.clock.advance(5);
    expect(await other.authenticate(key)).toBeUndefined();
  });

  test("a key created on another replica works at once", async () => {
    const other = new KeysService({ repo: s.repo, now: s.clock.now, cacheSeconds: 5 });
    expect(await keys.authenticate("usk_later")).toBeUndefined();
    const { key } = await other.create("acme");
    expect(await keys.authenticate(key)).toBeDefined();
  });

  test("revoking an unknown or revoked key is NotFound", async () => {
    expect((await refusal(keys.revoke("key_0000000000000000"))).code).toBe("not_found");
    const { id } = await keys.create("acme");
    await keys.revoke(id);
    expect((await refusal(keys.revoke(id))).code).toBe("not_found");
  });

  test("a key for a malformed namespace, or with a long label, is refused", async () => {
    expect((await refusal(keys.create("Acme"))).message).toBe("namespace: must be 1 to 63 of a-z 0-9 _ -");
    expect((await refusal(keys.create("acme", "l".repeat(201)))).message).toBe("label: must be at most 200 characters");
  });

  test("a bootstrap key is registered once as an admin key, with an id derived from it", async () => {
    const bootstrap = `bootstrap-${"b".repeat(32)}`;
    await keys.register(bootstrap, "bootstrap");
    await keys.register(bootstrap, "bootstrap");
    const found = (await keys.list()).filter((k) => k.label === "bootstrap");
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ namespace: null, id: `key_${sha256(bootstrap).subarray(0, 8).toString("hex")}` });
    expect(found[0]!.revokedMs).toBeNull();
  });
});

describe.each(ENGINES)("resolveCaller: keys and namespaces (%s)", (engine) => {
  let s: InProcess;
  let scoped: string;

  const caller = (headers: Record<string, string>) => resolveCaller(s.keys, new Headers(headers));
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    s = await startInProcess({ engine });
    scoped = (await s.keys.create("acme")).key;
  });
  afterAll(() => s.close());

  test('an admin key without a namespace header works in "default"', async () => {
    expect(await caller(bearer(s.adminKey))).toMatchObject({ namespace: "default", admin: true });
  });

  test("an admin key may pick any namespace", async () => {
    expect(await caller({ ...bearer(s.adminKey), "micro-namespace": "globex" })).toMatchObject({ namespace: "globex" });
  });

  test("a scoped key without a header works in its own namespace, and with its own name too", async () => {
    expect(await caller(bearer(scoped))).toMatchObject({ namespace: "acme", admin: false });
    expect(await caller({ ...bearer(scoped), "micro-namespace": "acme" })).toMatchObject({ namespace: "acme" });
  });

  test("a scoped key for another namespace is PermissionDenied", async () => {
    const err = await refusal(caller({ ...bearer(scoped), "micro-namespace": "globex" }));
    expect([err.code, err.message]).toEqual([
      "permission_denied",
      'this API key may only be used for namespace "acme"',
    ]);
  });

  test("the scheme is case-insensitive and surrounding spaces are ignored", async () => {
    expect(await caller({ authorization: `  bearer   ${s.adminKey} ` })).toMatchObject({ admin: true });
  });

  test.each([
    ["no authorization", {}],
    ["an unknown key", { authorization: "Bearer usk_unknown" }],
    ["another scheme", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }],
    ["a bare key", { authorization: "usk_abc" }],
    ["an empty bearer", { authorization: "Bearer " }],
  ])("%s is Unauthenticated", async (_why, headers) => {
    const err = await refusal(caller(headers));
    expect([err.code, err.message]).toEqual([
      "unauthenticated",
      "a valid API key is required: authorization: Bearer <key>",
    ]);
  });

  test("the key is checked before the namespace: no key with a bad namespace is Unauthenticated", async () => {
    expect((await refusal(caller({ "micro-namespace": "BAD!" }))).code).toBe("unauthenticated");
  });

  test.each(["Acme", "a.b", "x".repeat(64), "ünï"])("namespace %j is InvalidArgument", async (namespace) => {
    const err = await refusal(caller({ ...bearer(s.adminKey), "micro-namespace": namespace }));
    expect([err.code, err.message]).toEqual(["invalid_argument", "micro-namespace: must be 1 to 63 of a-z 0-9 _ -"]);
  });
});
