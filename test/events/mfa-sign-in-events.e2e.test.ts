// A sign-in finished with a second factor (VerifyMfa) is in the audit log as
// every other sign-in is: one session.created about the user, with the
// session's handle and `via: "mfa"`, over every protocol and on both engines.
// (Found by a black-box attack: it wrote no event.) A wrong code, at VerifyMfa
// or at any RPC that checks one (ConfirmTotp, RegenerateRecoveryCodes,
// DisableTotp), is a login.failed via mfa. Each names the key and the
// x-request-id of its call.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { codeAt, type MfaWorld, STEP_MS, startMfaWorld } from "../mfa/support.js";
import { PROTOCOLS } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { bootstrapKeyId, handleOf, storedEvents } from "./support.js";

/** A well-formed code that the authenticator shows at none of the steps the server accepts at `atMs`. */
function wrongCode(secret: string, atMs: number): string {
  const accepted = new Set([-1, 0, 1].map((step) => codeAt(secret, atMs + step * STEP_MS)));
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, "0");
    if (!accepted.has(code)) return code;
  }
}

describe.each(ENGINES)("events of a sign-in with a second factor (%s)", (engine) => {
  let w: MfaWorld;
  beforeAll(async () => {
    w = await startMfaWorld(engine);
  });
  afterAll(() => w.close());

  test.each(PROTOCOLS)(
    "%s: VerifyMfa writes session.created via mfa; the password step writes none",
    async (protocol) => {
      const user = await w.newUserWithTotp();
      const ticket = await w.ticketFor(user.username, protocol);
      const before = (await storedEvents(w.t.config.databaseUrl, user.id)).map((e) => e.type);
      expect(before).not.toContain("session.created");
      const code = codeAt(user.secret, w.clock.now());
      const answer = await w.ok(
        protocol,
        "verifyMfa",
        { mfaTicket: ticket, code },
        { ...w.admin, "x-request-id": `${protocol}-verify` },
      );
      const session = (answer.json!.session as { id: string })?.id;
      expect(typeof session).toBe("string");
      const created = (await storedEvents(w.t.config.databaseUrl, user.id)).filter((e) => e.type === "session.created");
      expect(created.map((e) => [e.data, e.actor_key, e.request_id])).toEqual([
        [{ session: handleOf(session), via: "mfa" }, bootstrapKeyId(w.t.adminKey), `${protocol}-verify`],
      ]);
      w.clock.advance(30);
    },
  );

  test.each(PROTOCOLS)("%s: a wrong code at each RPC that checks one is a login.failed naming its call", async (p) => {
    const as = (step: string) => ({ ...w.admin, "x-request-id": `${p}-${step}` });
    const user = await w.newUserWithTotp();
    const wrong = wrongCode(user.secret, w.clock.now());
    const ticket = await w.ticketFor(user.username, p);
    expect((await w.call(p, "verifyMfa", { mfaTicket: ticket, code: wrong }, as("verify-bad"))).code).not.toBe("ok");
    const regenerate = { userId: user.id, code: wrong };
    expect((await w.call(p, "regenerateRecoveryCodes", regenerate, as("regenerate-bad"))).code).not.toBe("ok");
    const disable = { userId: user.id, code: wrong, recoveryCode: "" };
    expect((await w.call(p, "disableTotp", disable, as("disable-bad"))).code).not.toBe("ok");
    const pending = await w.newUser("pending");
    const { secret } = (await w.ok(p, "enrollTotp", { userId: pending.id })).json as { secret: string };
    const confirm = { userId: pending.id, code: wrongCode(secret, w.clock.now()) };
    expect((await w.call(p, "confirmTotp", confirm, as("confirm-bad"))).code).not.toBe("ok");

    const failures = async (userId: string) =>
      (await storedEvents(w.t.config.databaseUrl, userId))
        .filter((e) => e.type === "login.failed")
        .map((e) => [e.data, e.actor_key, e.actor_session, e.request_id]);
    const admin = bootstrapKeyId(w.t.adminKey);
    expect(await failures(user.id)).toEqual([
      [{ via: "mfa" }, admin, "", `${p}-verify-bad`],
      [{ via: "mfa" }, admin, "", `${p}-regenerate-bad`],
      [{ via: "mfa" }, admin, "", `${p}-disable-bad`],
    ]);
    expect(await failures(pending.id)).toEqual([[{ via: "mfa" }, admin, "", `${p}-confirm-bad`]]);
  });
});
