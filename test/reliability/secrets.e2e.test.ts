// No secret in the logs: a full run (every RPC over every protocol, with
// successes and every kind of failure: bad and revoked keys, a key used for
// another namespace, wrong and throttled passwords, invalid and mistyped
// fields, malformed and oversized bodies, Internal errors from a broken
// database) against the server as an operator runs it (its stdout and stderr,
// from the start-up configuration dump on), and again in process at the
// trace log level. Every password, session id, API key, access token, mailed
// link token and reset code (read from the file mailbox) the run used, and the
// signing keys' private halves, are
// then looked for in the logs, as written and as JSON or URL encoding would
// write it, and none may be found.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, test } from "@jest/globals";
import { codeAt } from "../mfa/support.js";
import { runCli } from "../support/cli.js";
import { ENGINES, freshDatabaseUrl, withEncryptionKeys } from "../support/databases.js";
import { hideTable } from "../support/faults.js";
import { mailTo } from "../support/file-mailbox.js";
import { startTestServer } from "../support/server.js";
import { openPrivateJwk, storedKeys } from "../tokens/support/stored-keys.js";
import { type Method, rpc, rpcName } from "./support/rpc.js";
import { startServerProcess } from "./support/server-process.js";
import { grpcFrame, PROTOCOLS, type Protocol, Wire } from "./support/wire.js";

/** Every secret the run used, to be looked for in the logs afterwards. */
class Secrets {
  readonly all = new Set<string>();
  /** A new secret with a recognisable prefix and random rest. */
  make(prefix: string): string {
    return this.add(`${prefix}-${randomBytes(9).toString("base64url")}`);
  }
  add<T extends string>(value: T): T {
    this.all.add(value);
    return value;
  }
  /** The secrets found in the text, in any of the forms a log line could hold them. */
  foundIn(text: string): string[] {
    return [...this.all].filter((s) =>
      [s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s)].some((form) => text.includes(form)),
    );
  }
}

interface Keys {
  admin: string;
  scoped: string;
  scopedNamespace: string;
  revoked: string;
}

/** Calls every RPC over every protocol, succeeding and failing in every way; returns how many calls it made. */
async function exerciseEverything(
  url: string,
  keys: Keys,
  secrets: Secrets,
  databaseUrl: string,
  mailDir: string,
): Promise<number> {
  const seenMail = new Set<string>();
  const wire = new Wire(url);
  let calls = 0;
  const as = (key: string, namespace?: string): Record<string, string> => ({
    authorization: `Bearer ${key}`,
    ...(namespace ? { "micro-namespace": namespace } : {}),
  });
  const admin = as(keys.admin, "secrets");
  const call = (protocol: Protocol, method: Method, request: JsonObject, headers = admin) => {
    calls++;
    return rpc(wire, protocol, method, request, headers);
  };
  const raw = (protocol: Protocol, method: string, body: Buffer, headers = admin) => {
    calls++;
    return wire.send(protocol, { method, body, headers });
  };
  try {
    for (const protocol of PROTOCOLS) {
      const tag = protocol.replace(/\W/g, "");
      const password = secrets.make(`pw-${tag}`);
      const user = { id: `secret-${tag}`, username: `secret-${tag}`, email: `secret-${tag}@example.com` };
      expect((await call(protocol, "create", { ...user, password })).code).toBe("ok");
      // Failures of Create: taken, invalid, too long, NUL, mistyped.
      await call(protocol, "create", { ...user, password: secrets.make("pw-dup") });
      await call(protocol, "create", { username: "x y", email: "bad", password: secrets.make("pw-invalid") });
      await call(protocol, "create", {
        username: `long-${tag}`,
        email: `long-${tag}@example.com`,
        password: secrets.add(`pw-long-${"x".repeat(80)}`),
      });
      await call(protocol, "create", {
        username: `nul-${tag}`,
        email: `nul-${tag}@example.com`,
        password: secrets.add(`pw-nul-${tag}\u0000tail`),
      });
      if (protocol === "connect-json" || protocol === "m3o") {
        const mistyped = secrets.add(`98765${Date.now()}`);
        await raw(protocol, "Login", Buffer.from(`{"username":"${user.username}","password":${mistyped}}`));
        await raw(
          protocol,
          "Login",
          Buffer.from(`{"username":"${user.username}","password":"${secrets.make("pw-malformed")}"`),
        );
        await raw(
          protocol,
          "Login",
          Buffer.from(`{"username":"x","password":"${secrets.make("pw-big")}","pad":"${"p".repeat(2 * 1024 * 1024)}"}`),
        );
      }
      await call(protocol, "read", { id: user.id });
      await call(protocol, "read", { id: "nobody" });
      await call(protocol, "update", { id: user.id, email: `renamed-${tag}@example.com` });
      await call(protocol, "search", { username: "secret" });
      await call(protocol, "search", { limit: "5000" });

      const login = await call(protocol, "login", { username: user.username, password });
      expect(login.code).toBe("ok");
      const sessionId = secrets.add((login.json!.session as { id: string }).id);
      await call(protocol, "readSession", { sessionId });
      await call(protocol, "readSession", { sessionId: secrets.make("not-a-session") });
      // Access tokens are bearer credentials too: neither they nor the session ids they are made from are logged.
      const token = await call(protocol, "createToken", { sessionId });
      expect(token.code).toBe("ok");
      secrets.add(token.json!.accessToken as string);
      await call(protocol, "createToken", { sessionId: secrets.make("not-a-session-for-a-token") });
      await call(protocol, "listSessions", { userId: user.id });
      await call(protocol, "login", { email: `renamed-${tag}@example.com`, password: secrets.make("pw-wrong") });
      await call(protocol, "login", { username: "nobody-at-all", password: secrets.make("pw-unknown") });

      const newPassword = secrets.make(`pw-new-${tag}`);
      await call(protocol, "updatePassword", {
        userId: user.id,
        oldPassword: secrets.make("pw-wrong-old"),
        newPassword,
        confirmPassword: newPassword,
      });
      await call(protocol, "updatePassword", {
        userId: user.id,
        oldPassword: password,
        newPassword,
        confirmPassword: secrets.make("pw-mismatch"),
      });
      expect(
        (
          await call(protocol, "updatePassword", {
            userId: user.id,
            oldPassword: password,
            newPassword,
            confirmPassword: newPassword,
          })
        ).code,
      ).toBe("ok");
      const again = await call(protocol, "login", { username: user.username, password: newPassword });
      const secondSession = secrets.add((again.json!.session as { id: string }).id);
      await call(protocol, "logout", { sessionId: secondSession });
      await call(protocol, "logout", { sessionId });
      await call(protocol, "revokeSessions", { userId: user.id });

      // Second factors: the TOTP secret, its URI, recovery codes and MFA tickets are secrets too.
      // (Six-digit codes are not looked for: any number in a log line could hold one by chance.)
      const enrolled = await call(protocol, "enrollTotp", { userId: user.id });
      const totpSecret = secrets.add(enrolled.json!.secret as string);
      secrets.add(enrolled.json!.uri as string);
      const confirmed = await call(protocol, "confirmTotp", { userId: user.id, code: codeAt(totpSecret, Date.now()) });
      expect(confirmed.code).toBe("ok");
      const recoveryCodes = (confirmed.json!.recoveryCodes as string[]).map((c) => secrets.add(c));
      await call(protocol, "confirmTotp", { userId: user.id, code: "000000" });
      const ticketAnswer = await call(protocol, "login", { username: user.username, password: newPassword });
      const ticket = secrets.add(ticketAnswer.json!.mfaTicket as string);
      await call(protocol, "verifyMfa", { mfaTicket: ticket, recoveryCode: secrets.make("aaaa-bbbb-cccc-dddd") });
      await call(protocol, "verifyMfa", { mfaTicket: ticket, code: "12345x" });
      const mfaSession = await call(protocol, "verifyMfa", { mfaTicket: ticket, recoveryCode: recoveryCodes[0]! });
      expect(mfaSession.code).toBe("ok");
      secrets.add((mfaSession.json!.session as { id: string }).id);
      await call(protocol, "verifyMfa", { mfaTicket: secrets.make("ticket-unknown"), code: "000000" });
      const regenerated = await call(protocol, "regenerateRecoveryCodes", {
        userId: user.id,
        code: codeAt(totpSecret, Date.now()),
      });
      for (const c of (regenerated.json?.recoveryCodes as string[] | undefined) ?? []) secrets.add(c);
      await call(protocol, "getMfaStatus", { userId: user.id });
      await call(protocol, "disableTotp", { userId: user.id, recoveryCode: secrets.make("wxyz-wxyz") });
      expect((await call(protocol, "disableTotp", { userId: user.id, code: "000000" })).code).toBe("unauthenticated");
      expect((await call(protocol, "disableTotp", { userId: user.id })).code).toBe("ok");
      // Throttled: wrong guesses until the account is locked, then the right one refused.
      for (let i = 0; i < 4; i++)
        await call(protocol, "login", { username: user.username, password: secrets.make("pw-guess") });
      expect((await call(protocol, "login", { username: user.username, password: newPassword })).code).toBe(
        "resource_exhausted",
      );

      // Keys: scoped (at home and elsewhere), revoked, unknown, none.
      expect((await call(protocol, "search", {}, as(keys.scoped))).code).toBe("ok");
      expect((await call(protocol, "search", {}, as(keys.scoped, "someone-else"))).code).toBe("permission_denied");
      expect((await call(protocol, "search", {}, as(keys.revoked))).code).toBe("unauthenticated");
      await call(protocol, "search", {}, as(secrets.make("usk_unknown")));
      await call(protocol, "search", {}, { authorization: secrets.make("Basic") });
      await call(protocol, "search", {}, {});
      // Account recovery: a reset code and a magic link, read from the mail and used; wrong ones tried.
      const email = `renamed-${tag}@example.com`;
      await call(protocol, "sendVerificationEmail", { email });
      secrets.add(/token=([A-Za-z0-9_-]{43})/.exec(await mailTo(mailDir, email, seenMail))![1]!);
      await call(protocol, "sendPasswordResetEmail", { email });
      const code = secrets.add(/^([0-9A-Z]{10})$/m.exec(await mailTo(mailDir, email, seenMail))![1]!);
      const wrongCode = secrets.add(code.startsWith("0") ? `1${code.slice(1)}` : `0${code.slice(1)}`);
      const resetPassword = secrets.make(`pw-reset-${tag}`);
      const reset = { email, newPassword: resetPassword, confirmPassword: resetPassword };
      expect((await call(protocol, "resetPassword", { ...reset, code: wrongCode })).message).toBe("invalid or expired");
      await call(protocol, "resetPassword", { ...reset, code, confirmPassword: secrets.make("pw-reset-mismatch") });
      expect((await call(protocol, "resetPassword", { ...reset, code })).code).toBe("ok");
      await call(protocol, "resetPassword", { ...reset, code });
      await call(protocol, "sendMagicLink", { email, address: "https://app.example.com", endpoint: "/in" });
      const linkToken = secrets.add(/\?token=([A-Za-z0-9_-]{43})/.exec(await mailTo(mailDir, email, seenMail))![1]!);
      const signedIn = await call(protocol, "verifyToken", { token: linkToken });
      secrets.add((signedIn.json!.session as { id: string }).id);
      await call(protocol, "verifyToken", { token: linkToken });
      await call(protocol, "verifyToken", { token: secrets.make("not-a-link-token") });
      expect((await call(protocol, "login", { email, password: resetPassword })).code).toBe("ok");

      await raw(
        protocol,
        rpcName("login"),
        protocol === "grpc" || protocol === "grpc-web"
          ? grpcFrame(Buffer.from(secrets.make("pw-garbage")))
          : Buffer.from(secrets.make("pw-garbage")),
      );
      await call(protocol, "delete", { id: user.id });
    }

    // Internal errors: the database loses a table under a login and a create; their causes are logged in full.
    const internalPassword = secrets.make("pw-internal");
    expect(
      (
        await call("connect-json", "create", {
          username: "internal",
          email: "internal@example.com",
          password: internalPassword,
        })
      ).code,
    ).toBe("ok");
    for (const [table, method, request] of [
      ["sessions", "login", { username: "internal", password: internalPassword }],
      [
        "passwords",
        "create",
        { username: "internal2", email: "internal2@example.com", password: secrets.make("pw-internal-create") },
      ],
    ] as Array<[string, Method, JsonObject]>) {
      const fault = await hideTable(databaseUrl, table);
      try {
        for (const protocol of PROTOCOLS) expect((await call(protocol, method, request)).code).toBe("internal");
      } finally {
        await fault.release();
      }
    }
    return calls;
  } finally {
    wire.close();
  }
}

/** The signing keys' private halves, opened and as sealed, join the secrets looked for. */
async function addSigningKeySecrets(secrets: Secrets, databaseUrl: string, keyFile = ""): Promise<void> {
  const keys = await storedKeys(databaseUrl);
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) {
    secrets.add(key.private_sealed);
    secrets.add(openPrivateJwk({ databaseUrl, encryptionKeyFile: keyFile }, key).d!);
  }
}

describe.each(ENGINES)("no password, session id or API key in the logs (%s)", (engine) => {
  const SETTINGS = {
    BCRYPT_COST: "4",
    LOGIN_MAX_FAILURES: "3",
    MAX_BODY_BYTES: "1048576",
    // The keys' cache would hide a revocation made by the CLI from the server for a few seconds.
    API_KEY_CACHE_SECONDS: "0",
    // Every call's line, not a sample: the test counts them.
    LOG_CALLS: "all",
    REDIRECT_ORIGINS: "https://app.example.com",
    MAILS_PER_ADDRESS: "1000",
  };
  const newMailDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "users-secrets-mail-"));
  let secrets: Secrets;

  beforeAll(() => {
    secrets = new Secrets();
  });

  test("the server as an operator runs it: stdout and stderr of a full run", async () => {
    const databaseUrl = await freshDatabaseUrl(engine);
    const admin = secrets.make("bootstrap-admin-key-0123456789abcdef");
    const mailDir = newMailDir();
    const server = await startServerProcess({
      ...SETTINGS,
      DATABASE_URL: databaseUrl,
      USERS_BOOTSTRAP_KEY: admin,
      MAIL_DIR: mailDir,
    });
    try {
      const cli = { DATABASE_URL: databaseUrl };
      const scoped = /usk_[A-Za-z0-9_-]{43}/.exec(
        (await runCli(["keys", "create", "--namespace", "acme"], cli)).stdout,
      )![0];
      const revokedOut = (await runCli(["keys", "create", "--namespace", "acme"], cli)).stdout;
      const revoked = /usk_[A-Za-z0-9_-]{43}/.exec(revokedOut)![0];
      expect((await runCli(["keys", "revoke", /id (key_[0-9a-f]+)/.exec(revokedOut)![1]!], cli)).code).toBe(0);
      secrets.add(scoped);
      secrets.add(revoked);
      const calls = await exerciseEverything(
        server.url,
        { admin, scoped, scopedNamespace: "acme", revoked },
        secrets,
        databaseUrl,
        mailDir,
      );
      expect(await server.stop()).toEqual({ code: 0, signal: null });
      await addSigningKeySecrets(
        secrets,
        databaseUrl,
        withEncryptionKeys({ DATABASE_URL: databaseUrl }).ENCRYPTION_KEY_FILE,
      );
      const logs = server.output();
      const lines = logs.split("\n").filter((l) => l.trim() !== "");
      // The run was logged (one line per call and the Internal causes), and no secret is in it.
      expect(lines.length).toBeGreaterThan(calls * 0.9);
      expect(logs).toMatch(/"msg":"call failed unexpectedly"/);
      // The scan reads the real thing: what is not secret (the namespace) is there.
      expect(secrets.foundIn(logs)).toEqual([]);
      expect(logs).toContain('"namespace":"secrets"');
      console.log(
        `secrets in logs (${engine}, server process): ${calls} calls, ${lines.length} log lines, ${secrets.all.size} secrets looked for, none found`,
      );
    } finally {
      await server.stop("SIGKILL");
    }
  }, 120_000);

  test("in process at the trace log level", async () => {
    const mailDir = newMailDir();
    const t = await startTestServer({ engine, env: { ...SETTINGS, LOG_LEVEL: "trace", MAIL_DIR: mailDir } });
    try {
      secrets.add(t.adminKey);
      const scoped = secrets.add((await t.server.keys.create("acme")).key);
      const revokedKey = await t.server.keys.create("acme");
      await t.server.keys.revoke(revokedKey.id);
      secrets.add(revokedKey.key);
      const calls = await exerciseEverything(
        t.url,
        { admin: t.adminKey, scoped, scopedNamespace: "acme", revoked: revokedKey.key },
        secrets,
        t.config.databaseUrl,
        mailDir,
      );
      await addSigningKeySecrets(secrets, t.config.databaseUrl, t.config.encryptionKeyFile);
      const logs = t.logs.join("\n");
      expect(t.logs.length).toBeGreaterThan(calls * 0.9);
      expect(secrets.foundIn(logs)).toEqual([]);
      expect(logs).toContain('"namespace":"secrets"');
      console.log(
        `secrets in logs (${engine}, in process at trace level): ${calls} calls, ${t.logs.length} log lines, ${secrets.all.size} secrets looked for, none found`,
      );
    } finally {
      await t.close();
    }
  }, 120_000);
});
