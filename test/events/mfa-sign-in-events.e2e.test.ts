// A sign-in finished with a second factor (VerifyMfa) is in the audit log as
// every other sign-in is: one session.created about the user, with the
// session's handle and `via: "mfa"`, over every protocol and on both engines.
// (Found by a black-box attack: it wrote no event.)
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { codeAt, type MfaWorld, startMfaWorld } from "../mfa/support.js";
import { PROTOCOLS } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { handleOf, storedEvents } from "./support.js";

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
      const answer = await w.ok(protocol, "verifyMfa", { mfaTicket: ticket, code });
      const session = (answer.json!.session as { id: string })?.id;
      expect(typeof session).toBe("string");
      const created = (await storedEvents(w.t.config.databaseUrl, user.id)).filter((e) => e.type === "session.created");
      expect(created.map((e) => e.data)).toEqual([{ session: handleOf(session), via: "mfa" }]);
      w.clock.advance(30);
    },
  );
});
