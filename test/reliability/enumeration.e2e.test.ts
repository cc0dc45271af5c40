// No account enumeration through Login: an unknown user and a wrong password
// get the very same answer on every protocol (code, message, body, headers),
// and take the same time. The time is compared the only robust way on a busy
// shared machine: both kinds measured interleaved in one run, many samples,
// medians compared as a ratio (never an absolute time). bcrypt cost 8 makes
// the hash dominate each call; throttling is set out of the way. An account
// imported with a cheaper hash (cost 4) takes the same time as well.

import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import bcrypt from "bcrypt";
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
    await t.server.repo.importUsers([
      {
        namespace: "default",
        user: { id: "legacy-1", username: "legacy", email: "legacy@example.com", createdMs: 1, updatedMs: 1 },
        passwordHash: await bcrypt.hash("correct-horse-1", 4),
      },
    ]);
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

  /** Medians of PAIRS interleaved timed logins of each kind (after a warm-up), and their ratio. */
  async function compareTimes(a: JsonObject, b: JsonObject): Promise<{ a: number; b: number; ratio: number }> {
    const timed = async (request: JsonObject): Promise<number> => {
      const start = process.hrtime.bigint();
      const answer = await rpc(wire, "connect-json", "login", request, admin);
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      expect(answer.code).toBe("unauthenticated");
      return elapsed;
    };
    for (let i = 0; i < WARM_UP; i++) {
      await timed(a);
      await timed(b);
    }
    const samples = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < PAIRS; i++) {
      // Which kind goes first alternates, so neither always follows the other.
      if (i % 2 === 0) {
        samples.a.push(await timed(a));
        samples.b.push(await timed(b));
      } else {
        samples.b.push(await timed(b));
        samples.a.push(await timed(a));
      }
    }
    const medians = { a: median(samples.a), b: median(samples.b) };
    return { ...medians, ratio: Math.max(medians.a, medians.b) / Math.min(medians.a, medians.b) };
  }

  test(`unknown user and wrong password take the same time: medians of ${PAIRS} interleaved attempts each differ by under 10%`, async () => {
    const times = await compareTimes(
      { username: "nobody", password: "wrong-guess-1" },
      { username: "alice", password: "wrong-guess-1" },
    );
    console.log(
      `enumeration timing (${engine}): ${PAIRS} pairs, median unknown user ${times.a.toFixed(2)} ms, ` +
        `median wrong password ${times.b.toFixed(2)} ms, ratio ${times.ratio.toFixed(3)}`,
    );
    expect(times.ratio).toBeLessThan(1.1);
  }, 120_000);

  test(`an account imported with a cheaper hash takes as long as an unknown one: medians of ${PAIRS} pairs differ by under 10%`, async () => {
    const times = await compareTimes(
      { username: "nobody", password: "wrong-guess-1" },
      { username: "legacy", password: "wrong-guess-1" },
    );
    console.log(
      `enumeration timing (${engine}): ${PAIRS} pairs, median unknown user ${times.a.toFixed(2)} ms, ` +
        `median wrong password on a cost-4 hash ${times.b.toFixed(2)} ms, ratio ${times.ratio.toFixed(3)}`,
    );
    expect(times.ratio).toBeLessThan(1.1);
  }, 120_000);
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
