// HTTP/1.1 load generator (autocannon), run as its own process: reads a
// LoadSpec on stdin, drives the target at fixed concurrency (one keep-alive
// connection per concurrent caller, no pipelining) for a warm-up and then for
// the measured period, and prints a LoadResult on stdout.
import autocannon, { type Request } from "autocannon";
import { LatencyRecorder } from "./latency.js";
import { type LoadResult, type LoadSpec, MEASURING_MARK, warmUp } from "./load-spec.js";
import { readStdin } from "./read-stdin.js";

const spec = JSON.parse(await readStdin()) as LoadSpec;
const http = spec.http!;
let unique = 0;
const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;

function requests(onFailure: (text: string) => void): Request[] {
  const onResponse = (status: number, body: string) => {
    if (status < 200 || status > 299) onFailure(`HTTP ${status}: ${String(body).slice(0, 300)}`);
  };
  const base = { method: "POST", path: http.path, headers: http.headers, onResponse };
  if (http.uniqueTemplate !== undefined) {
    const template = http.uniqueTemplate;
    return [{ ...base, setupRequest: (req) => ({ ...req, body: template.replaceAll("{{n}}", `${tag}x${unique++}`) }) }];
  }
  return http.bodies.map((body) => ({ ...base, body }));
}

async function run(seconds: number, latency?: LatencyRecorder): Promise<LoadResult> {
  let firstError: string | undefined;
  const noteFailure = (text: string) => {
    firstError ??= text;
  };
  const instance = autocannon({
    url: spec.target,
    connections: spec.connections,
    pipelining: 1,
    duration: seconds,
    timeout: 30,
    requests: requests(noteFailure),
    ...(spec.ratePerSecond === undefined ? {} : { overallRate: spec.ratePerSecond }),
  });
  instance.on("reqError", (err: Error) => noteFailure(err.message));
  if (latency) {
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latency.record(ms);
    });
  }
  const result = await instance;
  const ok = result["2xx"];
  return {
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: result.duration,
    throughput: ok / result.duration,
    latency: (latency ?? new LatencyRecorder()).summary(),
    ...(firstError === undefined ? {} : { firstError }),
  };
}

const warmupOk = await warmUp(spec, (seconds) => run(seconds));
process.stdout.write(`${MEASURING_MARK}\n`);
const cpuBefore = process.cpuUsage();
const result = await run(spec.durationSeconds, new LatencyRecorder());
const cpu = process.cpuUsage(cpuBefore);
const clientCpuUsPerCall = result.ok > 0 ? (cpu.user + cpu.system) / result.ok : undefined;
process.stdout.write(`${JSON.stringify({ ...result, warmupOk, clientCpuUsPerCall })}\n`);
