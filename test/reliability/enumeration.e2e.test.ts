// No account enumeration through Login: an unknown user and a wrong password
// get the very same answer on every protocol (code, message, body, headers),
// and take the same time. The time is compared the only robust way on a busy
// shared machine: both kinds measured interleaved in one run, many samples,
// medians compared as a ratio (never an absolute time). bcrypt cost 8 makes
// the hash dominate each call; throttling is set out of the way.

import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { type RpcAnswer, rpc } from "./support/rpc.js";
import { PROTOCOLS, Wire } from "./support/wire.js";

const PAIRS = 200;
const WARM_UP = 20;
/** Headers that differ between any two calls (a request id, the time). */
const PER_CALL_HEADERS = new Set(["x-request-id", "date"]);

describe.each(ENGINES)("no account enumeration through Login (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let admin: Record<string, string>;

  beforeAll(async () => {
    t = await startTestServer({ engine, env: { BCRYPT_COST: "8", LOGIN_MAX_FAILURES: "1000" } });
    wire = new Wire(t.url);
    admin = { authorization: `Bearer ${t.adminKey}` };
    const created = await rpc(
      wire,
      "connect-json",
      "create",
      { username: "alice", email: "alice@example.com", password: "correct-horse-1" },
      admin,
    );
    expect(created.code).toBe("ok");
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  /** What a caller can observe of an answer, minus what differs on every call. */
  function observable(answer: RpcAnswer) {
    const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !PER_CALL_HEADERS.has(name)));
    return {
      httpStatus: answer.httpStatus,
      code: answer.code,
      message: answer.message,
      body: answer.body.toString("base64"),
      headers,
    };
  }

  test.each(PROTOCOLS)("%s: unknown user and wrong password give identical answers", async (protocol) => {
    const cases: Array<[string, JsonObject, JsonObject]> = [
      [
        "by username",
        { username: "nobody", password: "wrong-guess-1" },
        { username: "alice", password: "wrong-guess-1" },
      ],
      [
        "by email",
        { email: "nobody@example.com", password: "wrong-guess-1" },
        { email: "alice@example.com", password: "wrong-guess-1" },
      ],
    ];
    for (const [how, unknown, wrong] of cases) {
      const a = observable(await rpc(wire, protocol, "login", unknown, admin));
      const b = observable(await rpc(wire, protocol, "login", wrong, admin));
      expect({ how, ...a }).toEqual({ how, ...b });
      expect([a.code, a.message]).toEqual(["unauthenticated", "invalid credentials"]);
    }
  });

  test(`unknown user and wrong password take the same time: medians of ${PAIRS} interleaved attempts each differ by under 10%`, async () => {
    const unknown = { username: "nobody", password: "wrong-guess-1" };
    const wrong = { username: "alice", password: "wrong-guess-1" };
    const timed = async (request: JsonObject): Promise<number> => {
      const start = process.hrtime.bigint();
      const answer = await rpc(wire, "connect-json", "login", request, admin);
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      expect(answer.code).toBe("unauthenticated");
      return elapsed;
    };
    for (let i = 0; i < WARM_UP; i++) {
      await timed(unknown);
      await timed(wrong);
    }
    const samples = { unknown: [] as number[], wrong: [] as number[] };
    for (let i = 0; i < PAIRS; i++) {
      // Which kind goes first alternates, so neither always follows the other.
      if (i % 2 === 0) {
        samples.unknown.push(await timed(unknown));
        samples.wrong.push(await timed(wrong));
      } else {
        samples.wrong.push(await timed(wrong));
        samples.unknown.push(await timed(unknown));
      }
    }
    const medianUnknown = median(samples.unknown);
    const medianWrong = median(samples.wrong);
    const ratio = Math.max(medianUnknown, medianWrong) / Math.min(medianUnknown, medianWrong);
    console.log(
      `enumeration timing (${engine}): ${PAIRS} pairs, median unknown user ${medianUnknown.toFixed(2)} ms, ` +
        `median wrong password ${medianWrong.toFixed(2)} ms, ratio ${ratio.toFixed(3)}`,
    );
    expect(ratio).toBeLessThan(1.1);
  }, 120_000);
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
