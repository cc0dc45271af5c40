// SendVerificationEmail tells nobody which addresses have an account: a known
// and an unknown email get the very same answer on every protocol (code, body,
// headers), only the known one gets mail, and both take the same time. Time
// is compared as in test/reliability/enumeration.e2e.test.ts: interleaved
// samples, medians compared as a ratio, never an absolute time. The SMTP
// server is left down so no delivery runs during the measurement.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type RpcAnswer, rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, Wire } from "../reliability/support/wire.js";
import { ENGINES } from "../support/databases.js";
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
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

  test(`a known and an unknown email take the same time: medians of ${PAIRS} interleaved calls each differ by under 25%`, async () => {
    const timed = async (email: string): Promise<number> => {
      const start = process.hrtime.bigint();
      const answer = await rpc(wire, "connect-json", "sendVerificationEmail", request(email), admin);
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      expect(answer.code).toBe("ok");
      return elapsed;
    };
    for (let i = 0; i < WARM_UP; i++) {
      await timed("alice@example.com");
      await timed("nobody@example.com");
    }
    const samples = { known: [] as number[], unknown: [] as number[] };
    for (let i = 0; i < PAIRS; i++) {
      if (i % 2 === 0) {
        samples.known.push(await timed("alice@example.com"));
        samples.unknown.push(await timed("nobody@example.com"));
      } else {
        samples.unknown.push(await timed("nobody@example.com"));
        samples.known.push(await timed("alice@example.com"));
      }
    }
    const known = median(samples.known);
    const unknown = median(samples.unknown);
    const ratio = Math.max(known, unknown) / Math.min(known, unknown);
    console.log(
      `SendVerificationEmail timing (${engine}): median known ${known.toFixed(2)} ms, unknown ${unknown.toFixed(2)} ms, ratio ${ratio.toFixed(3)}`,
    );
    expect(ratio).toBeLessThan(1.25);
  }, 120_000);
});
