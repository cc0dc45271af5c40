// SendVerificationEmail tells nobody which addresses have an account: a known
// and an unknown email get the very same answer on every protocol (code, body,
// headers), only the known one gets mail, and both take the same time. Time
// is compared as test/support/paired-timing.ts does: back-to-back pairs, the
// median of their ratios, never an absolute time. The SMTP
// server is left down so no delivery runs during the measurement.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type RpcAnswer, rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
import { comparePaired } from "../support/paired-timing.js";
import { rawQuery } from "../support/raw-query.js";
import type { TestServer } from "../support/server.js";
import { SmtpCatcher } from "../support/smtp-catcher.js";
import { APP, lifecycleServer, ok } from "./support.js";

const PAIRS = 150;
const WARM_UP = 20;
const PER_CALL_HEADERS = new Set(["x-request-id", "date"]);

function observable(answer: RpcAnswer) {
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !PER_CALL_HEADERS.has(name)));
  return { httpStatus: answer.httpStatus, code: answer.code, body: answer.body.toString("base64"), headers };
}

describe.each(ENGINES)("no account enumeration through SendVerificationEmail (%s)", (engine) => {
  let catcher: SmtpCatcher;
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;

  beforeAll(async () => {
    catcher = new SmtpCatcher();
    await catcher.start();
    await catcher.stop();
    t = await lifecycleServer(engine, catcher, { MAIL_MAX_ATTEMPTS: "100", MAILS_PER_ADDRESS: "100000" });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
    await ok(
      wire,
      "connect-json",
      "create",
      { username: "alice", email: "alice@example.com", password: "password-123" },
      admin,
    );
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  const request = (email: string) => ({ email, redirectUrl: `${APP}/ok`, failureRedirectUrl: `${APP}/no` });

  test.each(PROTOCOLS)(
    "%s: a known and an unknown email get identical answers; only the known one gets mail",
    async (protocol) => {
      const before = await rawQuery(t.config.databaseUrl, "SELECT recipient FROM mail_outbox");
      const known = observable(await rpc(wire, protocol, "sendVerificationEmail", request("alice@example.com"), admin));
      const unknown = observable(
        await rpc(wire, protocol, "sendVerificationEmail", request("nobody@example.com"), admin),
      );
      expect(unknown).toEqual(known);
      expect(known.code).toBe("ok");
      const after = await rawQuery(t.config.databaseUrl, "SELECT recipient FROM mail_outbox");
      expect(after.length - before.length).toBe(1);
      expect(after.map((r) => r.recipient)).not.toContain("nobody@example.com");
    },
  );

  test(`a known and an unknown email take the same time: the median of ${PAIRS} back-to-back pairs' ratios is within 25%`, async () => {
    const send = (email: string) => async () => {
      const answer = await rpc(wire, "connect-json", "sendVerificationEmail", request(email), admin);
      expect(answer.code).toBe("ok");
    };
    const times = await comparePaired(send("alice@example.com"), send("nobody@example.com"), {
      pairs: PAIRS,
      warmUp: WARM_UP,
    });
    console.log(
      `SendVerificationEmail timing (${engine}): median known ${times.a.toFixed(2)} ms, unknown ${times.b.toFixed(2)} ms, median pair ratio ${times.ratio.toFixed(3)}`,
    );
    expect(times.ratio).toBeLessThan(1.25);
  }, 120_000);
});
