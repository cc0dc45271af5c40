// Mail-sending calls are rate limited in the database: per address for every
// key (counted for unknown addresses too, so a refusal says nothing about who
// has an account), and per public key and per namespace for public keys; each
// refusal is ResourceExhausted with retry-after on every protocol.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Users } from "../../gen/users/v1/users_pb.js";
import type { Protocol } from "../roles/support/callers.js";
import { headersOf, type RolesWorld, startRolesWorld } from "../roles/support/setup.js";
import { ENGINES } from "../support/databases.js";

const WINDOW_SECONDS = 600;

describe.each(ENGINES)("mail-sending limits (%s)", (engine) => {
  let w: RolesWorld;
  let clock = Date.UTC(2030, 0, 1, 0, 0, 10);
  let n = 0;

  beforeAll(async () => {
    w = await startRolesWorld(
      engine,
      {
        MAILS_PER_ADDRESS: "2",
        PUBLIC_MAILS_PER_KEY: "4",
        PUBLIC_MAILS_PER_NAMESPACE: "6",
        MAIL_RATE_WINDOW_SECONDS: String(WINDOW_SECONDS),
        REDIRECT_ORIGINS: "https://app.example.com",
      },
      () => clock,
    );
    await w.userWithSession("known");
  });
  afterAll(() => w.close());

  const send = (key: string, email: string, protocol: Protocol = "connect-json") =>
    w.callers.call(protocol, Users, Users.method.sendVerificationEmail, { email }, headersOf(key, "alpha"));

  test("per address, for a known and an unknown address alike, whatever the key", async () => {
    for (const email of ["known@example.com", "nobody@example.com"]) {
      expect((await send(w.keys.service, email)).code).toBe("ok");
      expect((await send(w.keys.admin, email, "grpc")).code).toBe("ok");
      for (const protocol of ["connect-json", "grpc", "grpc-web", "m3o"] as Protocol[]) {
        const refused = await send(w.keys.service, email, protocol);
        expect({ protocol, code: refused.code, retry: refused.retryAfter }).toEqual({
          protocol,
          code: "resource_exhausted",
          // 10 s into a 600 s window.
          retry: "590",
        });
        if (refused.http) expect(refused.http.status).toBe(429);
      }
    }
    // Another address has its own count.
    expect((await send(w.keys.service, "other@example.com")).code).toBe("ok");
    // The next window counts from zero.
    clock += WINDOW_SECONDS * 1000;
    expect((await send(w.keys.service, "known@example.com")).code).toBe("ok");
  });

  test("per public key, then per namespace; trusted keys are not limited that way", async () => {
    clock += WINDOW_SECONDS * 1000;
    for (let i = 0; i < 4; i++) expect((await send(w.keys.public, `app${++n}@example.com`)).code).toBe("ok");
    const refused = await send(w.keys.public, `app${++n}@example.com`, "m3o");
    expect([refused.code, refused.http?.status]).toEqual(["resource_exhausted", 429]);
    // A second public key of the namespace: the namespace's 6 are reached after 2 more.
    const second = (await w.t.server.keys.create("alpha", "second app", "public")).key;
    expect((await send(second, `app${++n}@example.com`)).code).toBe("ok");
    expect((await send(second, `app${++n}@example.com`)).code).toBe("ok");
    expect((await send(second, `app${++n}@example.com`)).code).toBe("resource_exhausted");
    expect((await send(w.keys.service, `app${++n}@example.com`)).code).toBe("ok");
  });

  test("a public key sends only the service's own texts: a subject, text or sender name of its own is refused", async () => {
    clock += WINDOW_SECONDS * 1000;
    for (const [field, request] of [
      ["subject", { subject: "Your account is compromised" }],
      ["text_content", { textContent: "Sign in at https://evil.example now" }],
      ["from_name", { fromName: "Security Team" }],
    ] as const) {
      for (const protocol of ["connect-json", "grpc", "m3o"] as Protocol[]) {
        const refused = await w.callers.call(
          protocol,
          Users,
          Users.method.sendVerificationEmail,
          { email: "known@example.com", ...request },
          headersOf(w.keys.public, "alpha"),
        );
        expect({ field, protocol, code: refused.code }).toEqual({ field, protocol, code: "permission_denied" });
      }
    }
    // The same request with the service's own texts goes; a service key may write its own.
    expect((await send(w.keys.public, "known@example.com")).code).toBe("ok");
    const custom = await w.callers.call(
      "connect-json",
      Users,
      Users.method.sendVerificationEmail,
      { email: "known@example.com", subject: "Welcome to Example", fromName: "Example" },
      headersOf(w.keys.service, "alpha"),
    );
    expect(custom.code).toBe("ok");
  });

  // Every mail-sending call: verification, password reset, magic link.
  const sendAny = (kind: number, key: string, email: string, protocol: Protocol = "connect-json") => {
    const [method, request] = [
      [Users.method.sendVerificationEmail, { email }],
      [Users.method.sendPasswordResetEmail, { email }],
      [Users.method.sendMagicLink, { email, address: "https://app.example.com", endpoint: "/in" }],
    ][kind % 3] as [typeof Users.method.sendVerificationEmail, Record<string, string>];
    return w.callers.call(protocol, Users, method, request, headersOf(key, "alpha"));
  };

  test("the address's limit counts every Send* together, known or unknown address", async () => {
    for (const email of ["known@example.com", "nobody@example.com"]) {
      for (const first of [0, 1, 2]) {
        clock += WINDOW_SECONDS * 1000;
        expect((await sendAny(first, w.keys.service, email)).code).toBe("ok");
        expect((await sendAny(first + 1, w.keys.admin, email, "grpc")).code).toBe("ok");
        const refused = await sendAny(first + 2, w.keys.service, email, "m3o");
        expect({ email, first, code: refused.code, http: refused.http?.status }).toEqual({
          email,
          first,
          code: "resource_exhausted",
          http: 429,
        });
      }
    }
  });

  test("a public key's limit counts every Send* together", async () => {
    clock += WINDOW_SECONDS * 1000;
    for (let i = 0; i < 4; i++) expect((await sendAny(i, w.keys.public, `any${++n}@example.com`)).code).toBe("ok");
    for (const kind of [0, 1, 2]) {
      expect((await sendAny(kind, w.keys.public, `any${++n}@example.com`)).code).toBe("resource_exhausted");
    }
  });
});
