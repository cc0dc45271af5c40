// The batching under PostgreSQL's coalesced point reads (src/storage/postgres/coalesced-reads.ts):
// lookups of one event-loop turn become one statement; a lone lookup keeps its own. The answers
// themselves are checked against real databases in repository.contract.test.ts.
import { describe, expect, test } from "@jest/globals";
import { byPosition, CoalescedRead } from "../../src/storage/postgres/coalesced-reads.js";

function reader() {
  const calls: Array<{ kind: "one" | "many"; keys: number[] }> = [];
  let failMany = false;
  const read = new CoalescedRead<number, string>(
    async (key) => {
      calls.push({ kind: "one", keys: [key] });
      return key % 2 === 0 ? `row ${key}` : undefined;
    },
    async (keys) => {
      calls.push({ kind: "many", keys });
      if (failMany) throw new Error("statement failed");
      return keys.map((key) => (key % 2 === 0 ? `row ${key}` : undefined));
    },
  );
  return { read, calls, failNext: () => (failMany = true) };
}

describe("coalesced point reads", () => {
  test("lookups of one turn share one statement, each gets its own row", async () => {
    const { read, calls } = reader();
    const rows = await Promise.all([1, 2, 3, 4, 4].map((key) => read.read(key)));
    expect(rows).toEqual([undefined, "row 2", undefined, "row 4", "row 4"]);
    expect(calls).toEqual([{ kind: "many", keys: [1, 2, 3, 4, 4] }]);
  });

  test("a lone lookup runs its own statement", async () => {
    const { read, calls } = reader();
    expect(await read.read(6)).toBe("row 6");
    expect(await read.read(7)).toBeUndefined();
    expect(calls).toEqual([
      { kind: "one", keys: [6] },
      { kind: "one", keys: [7] },
    ]);
  });

  test("a failed statement fails every lookup in it, and the next turn starts afresh", async () => {
    const { read, calls, failNext } = reader();
    failNext();
    const results = await Promise.allSettled([read.read(1), read.read(2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await read.read(8)).toBe("row 8");
    expect(calls.at(-1)).toEqual({ kind: "one", keys: [8] });
  });

  test("more than 128 lookups at once go as several statements", async () => {
    const { read, calls } = reader();
    const keys = Array.from({ length: 300 }, (_, i) => i);
    const rows = await Promise.all(keys.map((key) => read.read(key)));
    expect(rows).toEqual(keys.map((key) => (key % 2 === 0 ? `row ${key}` : undefined)));
    expect(calls.map((c) => c.keys.length)).toEqual([128, 128, 44]);
  });

  test("rows are spread back by their 1-based position", () => {
    expect(byPosition(4, [{ i: 3 }, { i: 1 }])).toEqual([{ i: 1 }, undefined, { i: 3 }, undefined]);
  });
});
