// Public sign-up: limited per public key and per namespace (counted in the
// database), with ResourceExhausted and retry-after on every protocol; off
// for the namespaces PUBLIC_SIGNUP_OFF_NAMESPACES lists.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import type { Protocol } from "./support/callers.js";
import { headersOf, type RolesWorld, startRolesWorld } from "./support/setup.js";

const WINDOW_SECONDS = 600;

describe.each(ENGINES)("public sign-up limits (%s)", (engine) => {
  let w: RolesWorld;
  let clock = Date.UTC(2030, 0, 1, 0, 0, 10);
  let n = 0;

  beforeAll(async () => {
    w = await startRolesWorld(
      engine,
      {
        PUBLIC_SIGNUPS_PER_KEY: "3",
        PUBLIC_SIGNUPS_PER_NAMESPACE: "5",
        PUBLIC_SIGNUP_WINDOW_SECONDS: String(WINDOW_SECONDS),
        PUBLIC_SIGNUP_OFF_NAMESPACES: "closed, private",
      },
      () => clock,
    );
  });
  afterAll(() => w.close());

  const signUp = (key: string, protocol: Protocol = "connect-json", namespace?: string) =>
    w.callers.call(
      protocol,
      Users,
      Users.method.create,
      { username: `joiner${++n}`, email: `joiner${n}@example.com`, password: "correct horse" },
      headersOf(key, namespace),
    );

  test("per key, then per namespace; service keys are not limited; a new window counts again", async () => {
    const protocols: Protocol[] = ["connect-json", "grpc", "m3o"];
    for (const protocol of protocols) expect((await signUp(w.keys.public, protocol)).code).toBe("ok");
    for (const protocol of [...protocols, "grpc-web", "connect-binary"] as Protocol[]) {
      const refused = await signUp(w.keys.public, protocol);
      expect({ protocol, code: refused.code }).toEqual({ protocol, code: "resource_exhausted" });
      // 10 s into a 600 s window: the next window starts in 590 s.
      expect({ protocol, retry: refused.retryAfter }).toEqual({ protocol, retry: "590" });
      if (refused.http) expect(refused.http.status).toBe(429);
    }
    // A second public key of the namespace: the namespace's 5 are reached after 2 more.
    const second = (await w.t.server.keys.create("alpha", "second app", "public")).key;
    expect((await signUp(second)).code).toBe("ok");
    expect((await signUp(second)).code).toBe("ok");
    expect((await signUp(second)).code).toBe("resource_exhausted");
    // Trusted keys sign users up whatever the count.
    expect((await signUp(w.keys.service)).code).toBe("ok");
    // The next window counts from zero.
    clock += WINDOW_SECONDS * 1000;
    expect((await signUp(w.keys.public)).code).toBe("ok");
    expect((await signUp(second)).code).toBe("ok");
  });

  test("sign-up can be off for a namespace: Create is PermissionDenied there, the rest of a public key's calls work", async () => {
    const closed = (await w.t.server.keys.create("closed", "closed app", "public")).key;
    for (const protocol of ["connect-json", "grpc", "m3o"] as Protocol[]) {
      const refused = await signUp(closed, protocol);
      expect({ protocol, code: refused.code }).toEqual({ protocol, code: "permission_denied" });
    }
    await w.admin("create", { username: "member", email: "member@example.com", password: "correct horse" }, "closed");
    const login = await w.callers.call(
      "connect-json",
      Users,
      Users.method.login,
      { username: "member", password: "correct horse" },
      headersOf(closed, undefined),
    );
    expect(login.code).toBe("ok");
    expect((await signUp(w.keys.admin, "connect-json", "closed")).code).toBe("ok");
  });
});
