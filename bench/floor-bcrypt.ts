// Floor (a): raw bcrypt throughput at a given cost, with the same library and
// the same libuv thread pool as the service (bcrypt's async functions), no
// HTTP at all. Reads { mode, cost, password, concurrency, warmupSeconds,
// durationSeconds } on stdin, keeps `concurrency` operations in flight, and
// prints a LoadResult (latency = time of one operation as its caller sees it).
import bcrypt from "bcrypt";
import { LatencyRecorder, msSince } from "./latency.js";
import type { LoadResult } from "./load-spec.js";
import { readStdin } from "./read-stdin.js";

export interface BcryptFloorSpec {
  mode: "compare" | "hash";
  cost: number;
  password: string;
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
}

const spec = JSON.parse(await readStdin()) as BcryptFloorSpec;
const hash = await bcrypt.hash(spec.password, spec.cost);
const operation =
  spec.mode === "compare" ? () => bcrypt.compare(spec.password, hash) : () => bcrypt.hash(spec.password, spec.cost);

async function run(seconds: number, latency?: LatencyRecorder): Promise<LoadResult> {
  let ok = 0;
  const start = process.hrtime.bigint();
  const endMs = seconds * 1000;
  const worker = async () => {
    while (msSince(start) < endMs) {
      const began = process.hrtime.bigint();
      await operation();
      // Operations still running at the end are let finish, but not counted.
      if (msSince(start) > endMs) break;
      ok++;
      latency?.record(msSince(began));
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  return { ok, failed: 0, seconds, throughput: ok / seconds, latency: (latency ?? new LatencyRecorder()).summary() };
}

const warmupOk = spec.warmupSeconds > 0 ? (await run(spec.warmupSeconds)).ok : 0;
const cpuBefore = process.cpuUsage();
const result = await run(spec.durationSeconds, new LatencyRecorder());
// Operations let finish after the end count for the CPU they used: a slight overestimate of the floor's cost.
const cpu = process.cpuUsage(cpuBefore);
const cpuUsPerOp = (cpu.user + cpu.system) / result.ok;
process.stdout.write(`${JSON.stringify({ ...result, warmupOk, cpuUsPerOp })}\n`);
