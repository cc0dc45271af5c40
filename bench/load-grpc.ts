// gRPC load generator (@grpc/grpc-js over HTTP/2), run as its own process:
// reads a LoadSpec on stdin and keeps `connections` calls in flight on one
// channel (as a gRPC client service would) for a warm-up and then for the
// measured period; prints a LoadResult on stdout.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { LatencyRecorder, msSince } from "./latency.js";
import { type LoadResult, type LoadSpec, MEASURING_MARK, warmUp } from "./load-spec.js";
import { readStdin } from "./read-stdin.js";

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null) => void,
) => void;

const PROTO = fileURLToPath(new URL("../../proto/users/v1/users.proto", import.meta.url));
const spec = JSON.parse(await readStdin()) as LoadSpec;
const { method, requests } = spec.grpc!;

const definition = protoLoader.loadSync(PROTO, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  // users.proto imports its neighbours (users/v1/tokens.proto) from the proto root.
  includeDirs: [fileURLToPath(new URL("../../proto", import.meta.url))],
});
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  users: { v1: { Users: grpc.ServiceClientConstructor } };
};
const client = new pkg.users.v1.Users(spec.target, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
for (const [name, value] of Object.entries(spec.grpc!.metadata)) metadata.set(name, value);
const call = (client as unknown as Record<string, Unary>)[method]!.bind(client);

async function run(seconds: number, latency?: LatencyRecorder): Promise<LoadResult> {
  let ok = 0;
  let failed = 0;
  let next = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const endMs = seconds * 1000;
  const worker = async () => {
    while (msSince(start) < endMs) {
      const request = requests[next++ % requests.length]!;
      const sent = process.hrtime.bigint();
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        call(request, metadata, { deadline: Date.now() + 30_000 }, resolve),
      );
      // Calls still running at the end are let finish, but not counted.
      if (msSince(start) > endMs) break;
      if (err) {
        failed++;
        firstError ??= `gRPC ${err.code}: ${err.details}`;
      } else {
        ok++;
        latency?.record(msSince(sent));
      }
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  return {
    ok,
    failed,
    seconds,
    throughput: ok / seconds,
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
client.close();
process.stdout.write(`${JSON.stringify({ ...result, warmupOk, clientCpuUsPerCall })}\n`);
