// No account enumeration through Login: an unknown user and a wrong password
// get the very same answer on every protocol (code, message, body, headers),
// and take the same time. The time is compared the only robust way on a busy
// shared machine (test/support/paired-timing.ts): back-to-back pairs, the
// median of the pairs' ratios, never an absolute time. bcrypt cost 8 makes
// the hash dominate each call; throttling is set out of the way. An account
// imported with a cheaper hash (cost 4) takes the same time as well.

import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import bcrypt from "bcrypt";
import { ENGINES } from "../support/databases.js";
import { comparePaired } from "../support/paired-timing.js";
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

  /** Timed logins of each kind, both refused as they must be (see test/support/paired-timing.ts). */
  function compareTimes(a: JsonObject, b: JsonObject) {
    const login = (request: JsonObject) => async () => {
      const answer = await rpc(wire, "connect-json", "login", request, admin);
      expect(answer.code).toBe("unauthenticated");
    };
    return comparePaired(login(a), login(b), { pairs: PAIRS, warmUp: WARM_UP });
  }

  test(`unknown user and wrong password take the same time: the median of ${PAIRS} back-to-back pairs' ratios is within 10%`, async () => {
    const times = await compareTimes(
      { username: "nobody", password: "wrong-guess-1" },
      { username: "alice", password: "wrong-guess-1" },
    );
    console.log(
      `enumeration timing (${engine}): ${PAIRS} pairs, median unknown user ${times.a.toFixed(2)} ms, ` +
        `median wrong password ${times.b.toFixed(2)} ms, median pair ratio ${times.ratio.toFixed(3)}`,
    );
    expect(times.ratio).toBeLessThan(1.1);
  }, 120_000);

  test(`an account imported with a cheaper hash takes as long as an unknown one: the median of ${PAIRS} back-to-back pairs' ratios is within 25%`, async () => {
    const times = await compareTimes(
      { username: "nobody", password: "wrong-guess-1" },
      { username: "legacy", password: "wrong-guess-1" },
    );
    console.log(
      `enumeration timing (${engine}): ${PAIRS} pairs, median unknown user ${times.a.toFixed(2)} ms, ` +
        `median wrong password on a cost-4 hash ${times.b.toFixed(2)} ms, median pair ratio ${times.ratio.toFixed(3)}`,
    );
    // The pad waits for the median of recent full-cost checks, so while the machine's load changes it trails the
    // present by a little (1.12 was seen at load 14); without the pad the ratio is about 50.
    expect(times.ratio).toBeLessThan(1.25);
  }, 120_000);
});
