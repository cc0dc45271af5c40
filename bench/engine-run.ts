// One engine's pass: seed the database, start the service and the floors in
// their own processes, then measure each floor and the call it bounds one
// right after the other (so both see the same machine), the mixed load and the
// RSS soak. Load generators are child processes too.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { cpuSeconds, mainThreadCpuSeconds } from "./cpu-time.js";
import { type EngineReport, type Figure, figureId, type SoakReport } from "./figures.js";
import type { BcryptFloorSpec } from "./floor-bcrypt.js";
import type { LoadResult, LoadSpec } from "./load-spec.js";
import type { BenchOptions } from "./options.js";
import {
  BENCH_DIST,
  freePort,
  ROOT,
  readyHttp,
  readyLine,
  runJson,
  type ServerProcess,
  startServer,
} from "./processes.js";
import { NAMESPACE, PASSWORD, type Seeded, seed } from "./seed.js";
import { growthOverPeriodMb, thin } from "./soak.js";
import { type Call, grpcRequests, type HttpProtocol, httpRequests } from "./workloads.js";

export interface EngineTarget {
  engine: "sqlite" | "postgres";
  databaseUrl: string;
  /** The SQLite file, for the node:http + SQLite floor. */
  sqlitePath?: string;
  description: string;
}

interface Servers {
  service: ServerProcess & { port: number };
  connect: ServerProcess & { port: number; h2Port: number };
  httpSqlite?: ServerProcess & { port: number };
}

const log = (text: string) => process.stderr.write(text);

export async function runEngine(
  target: EngineTarget,
  options: BenchOptions,
  profileDir: string,
): Promise<EngineReport> {
  log(`\n== ${target.engine}: ${target.description}\n`);
  const users = target.engine === "postgres" ? options.postgresUsers : options.users;
  log(`seeding ${users.toLocaleString("en")} users (importUsers, one shared bcrypt hash)...`);
  const seeded = await seed({
    databaseUrl: target.databaseUrl,
    users,
    bcryptCost: options.bcryptCost,
  });
  log(` ${seeded.loadSeconds.toFixed(1)} s\n`);

  const servers = await startServers(target, options, profileDir);
  const bench = new EngineBench(options, seeded, servers);
  try {
    for (let round = 1; round <= options.rounds; round++) {
      if (options.rounds > 1) log(`-- round ${round} of ${options.rounds}\n`);
      await bench.pairs(target.engine);
    }
    const mixed = bench.wanted("mixed") ? await bench.mixed() : undefined;
    const soak = bench.wanted("soak") ? await bench.soak() : undefined;
    return {
      engine: target.engine,
      database: target.description,
      users: seeded.users,
      seedSeconds: seeded.loadSeconds,
      figures: bench.figures(),
      ...(mixed ? { mixed } : {}),
      ...(soak ? { soak } : {}),
      serviceRssMaxMb: servers.service.rss.maxMb(),
    };
  } finally {
    for (const server of [servers.service, servers.connect, servers.httpSqlite]) await server?.stop();
  }
}

/** A key file for the run (required with PostgreSQL; SQLite would make its own beside the database). */
function benchEncryptionKeyFile(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "users-bench-")), "encryption-keys");
  fs.writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
  return file;
}

async function startServers(target: EngineTarget, options: BenchOptions, profileDir: string): Promise<Servers> {
  const port = await freePort();
  // Every server is profiled alike, so the service's profile can be read against its floors'.
  const profile = (name: string) =>
    options.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  if (options.profile) fs.mkdirSync(profileDir, { recursive: true });
  const service = await startServer({
    name: "service",
    args: [...profile("service"), path.join(ROOT, "bin/users-service.js"), "serve"],
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: target.databaseUrl,
      ENCRYPTION_KEY_FILE: benchEncryptionKeyFile(),
      BCRYPT_COST: String(options.bcryptCost),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
    },
    ready: readyHttp(`http://127.0.0.1:${port}/readyz`),
  });
  const [h1, h2] = [await freePort(), await freePort()];
  const connect = await startServer({
    name: "floor-connect",
    args: [...profile("floor-connect"), path.join(BENCH_DIST, "floor-connect.js")],
    env: { FLOOR_PORT: String(h1), FLOOR_H2_PORT: String(h2) },
    ready: readyLine,
  });
  const servers: Servers = { service: { ...service, port }, connect: { ...connect, port: h1, h2Port: h2 } };
  if (target.sqlitePath) {
    const sqlitePort = await freePort();
    const httpSqlite = await startServer({
      name: "floor-http-sqlite",
      args: [...profile("floor-http-sqlite"), path.join(BENCH_DIST, "floor-http-sqlite.js")],
      env: { FLOOR_PORT: String(sqlitePort), FLOOR_SQLITE_PATH: target.sqlitePath, FLOOR_NAMESPACE: NAMESPACE },
      ready: readyLine,
    });
    servers.httpSqlite = { ...httpSqlite, port: sqlitePort };
  }
  return servers;
}

class EngineBench {
  private readonly best = new Map<string, Figure>();

  constructor(
    private readonly options: BenchOptions,
    private readonly seeded: Seeded,
    private readonly servers: Servers,
  ) {}

  wanted(id: string): boolean {
    return this.options.only.length === 0 || this.options.only.some((part) => id.includes(part));
  }

  figures(): Figure[] {
    return [...this.best.values()];
  }

  /** Each floor right before the calls it bounds. */
  async pairs(engine: EngineTarget["engine"]): Promise<void> {
    const { service, connect, httpSqlite } = this.servers;
    const c = this.options.connections;
    const quick = this.options.mode === "quick";

    const hashing = this.options.hashConnections;
    await this.bcrypt("compare");
    await this.http(service, "connect-json", "Login", hashing);
    await this.bcrypt("hash");
    await this.http(service, "connect-json", "Create", hashing);

    await this.http(connect, "connect-json", "ReadSession", c);
    await this.http(service, "connect-json", "ReadSession", c);
    if (httpSqlite && engine === "sqlite") await this.http(httpSqlite, "connect-json", "ReadSession", c);
    if (!quick) await this.http(service, "m3o", "ReadSession", c);

    await this.http(connect, "connect-json", "Read", c);
    await this.http(service, "connect-json", "Read", c);
    if (!quick) await this.http(service, "m3o", "Read", c);

    await this.http(connect, "connect-json", "Search", c);
    await this.http(service, "connect-json", "Search", c);
    await this.http(service, "connect-json", "Search", 1);
    await this.http(service, "connect-json", "SearchDeep", c);
    await this.http(service, "connect-json", "SearchPair", c);

    await this.grpc(connect, "ReadSession", c);
    await this.grpc(service, "ReadSession", c);
    if (!quick) {
      await this.grpc(connect, "Read", c);
      await this.grpc(service, "Read", c);
    }
  }

  /** Logins saturating the hashing while ReadSession is called: how much do reads suffer? */
  async mixed(): Promise<{ login: LoadResult; readSession: LoadResult }> {
    const { port } = this.servers.service;
    const rate = this.options.mixedReadRate;
    log(`  mixed: Login saturating hashing, ReadSession at ${rate}/s ...`);
    const [login, readSession] = await Promise.all([
      runJson<LoadResult>("load-http.js", this.httpSpec(port, "connect-json", "Login", this.options.hashConnections)),
      runJson<LoadResult>("load-http.js", {
        ...this.httpSpec(port, "connect-json", "ReadSession", this.options.connections),
        ratePerSecond: rate,
      }),
    ]);
    log(
      ` Login ${login.throughput.toFixed(1)}/s, ReadSession ${readSession.throughput.toFixed(0)}/s p99 ${readSession.latency.p99Ms.toFixed(2)} ms\n`,
    );
    return { login, readSession };
  }

  async soak(): Promise<SoakReport> {
    const { service } = this.servers;
    const seconds = this.options.soakSeconds;
    log(`  soak: ReadSession for ${seconds} s ...`);
    const from = service.rss.now();
    const result = await runJson<LoadResult>("load-http.js", {
      ...this.httpSpec(service.port, "connect-json", "ReadSession", this.options.connections),
      warmupSeconds: 0,
      durationSeconds: seconds,
    });
    const to = service.rss.now();
    const samples = service.rss.between(from, to);
    const settled = samples.filter((s) => s.atMs >= from + (to - from) / 5);
    const tenth = Math.max(1, Math.floor(settled.length / 10));
    const mean = (list: typeof samples) => list.reduce((a, s) => a + s.mb, 0) / Math.max(1, list.length);
    const report: SoakReport = {
      seconds,
      growthMb: growthOverPeriodMb(settled),
      startMb: mean(settled.slice(0, tenth)),
      endMb: mean(settled.slice(-tenth)),
      maxMb: service.rss.maxMb(from, to),
      result,
      samples: thin(samples).map((s) => ({ atMs: s.atMs - from, mb: Math.round(s.mb * 10) / 10 })),
    };
    log(
      ` ${result.throughput.toFixed(0)}/s, RSS ${report.startMb.toFixed(1)} → ${report.endMb.toFixed(1)} MB (fit ${report.growthMb >= 0 ? "+" : ""}${report.growthMb.toFixed(1)} MB)\n`,
    );
    return report;
  }

  private httpSpec(port: number, protocol: HttpProtocol, call: Call, connections: number): LoadSpec {
    return {
      kind: "http",
      target: `http://127.0.0.1:${port}`,
      connections,
      warmupSeconds: this.options.warmupSeconds,
      warmupCalls: this.options.warmupCalls,
      durationSeconds: this.options.durationSeconds,
      http: httpRequests(call, protocol, this.seeded),
    };
  }

  private async http(
    server: ServerProcess & { port: number },
    protocol: HttpProtocol,
    call: Call,
    connections: number,
  ) {
    const spec = this.httpSpec(server.port, protocol, call, connections);
    await this.measure(server, protocol, call, connections, (onMeasuring) =>
      runJson<LoadResult>("load-http.js", spec, {}, onMeasuring),
    );
  }

  private async grpc(server: ServerProcess & { port: number; h2Port?: number }, call: Call, connections: number) {
    const spec: LoadSpec = {
      kind: "grpc",
      target: `127.0.0.1:${server.h2Port ?? server.port}`,
      connections,
      warmupSeconds: this.options.warmupSeconds,
      warmupCalls: this.options.warmupCalls,
      durationSeconds: this.options.durationSeconds,
      grpc: grpcRequests(call, this.seeded),
    };
    await this.measure(server, "grpc", call, connections, (onMeasuring) =>
      runJson<LoadResult>("load-grpc.js", spec, {}, onMeasuring),
    );
  }

  /**
   * Floor (a), in a process of its own like the others; Create's floor is a
   * hash, Login's a compare. As many operations at once as the service hashes
   * at once (HASH_CONCURRENCY's default, one per core): on an idle machine more
   * threads than cores hash no faster, and on a shared one they would only take
   * a larger share of the cores from other processes than the service's do.
   */
  private async bcrypt(mode: "compare" | "hash") {
    const spec: BcryptFloorSpec = {
      mode,
      cost: this.options.bcryptCost,
      password: PASSWORD,
      concurrency: os.availableParallelism(),
      // No JIT to warm: bcrypt runs natively from the first call.
      warmupSeconds: this.options.warmupSeconds,
      durationSeconds: this.options.durationSeconds,
    };
    await this.measure(undefined, "bcrypt", mode, os.availableParallelism(), () =>
      runJson<LoadResult>("floor-bcrypt.js", spec),
    );
  }

  private async measure(
    server: ServerProcess | undefined,
    protocol: string,
    call: string,
    connections: number,
    load: (onMeasuring: () => void) => Promise<LoadResult>,
  ): Promise<void> {
    const serverName = server?.name ?? "floor-bcrypt";
    const id = figureId(serverName, protocol, call, connections);
    if (!this.wanted(id)) return;
    log(`  ${id.padEnd(44)} `);
    const from = server?.rss.now() ?? 0;
    // The server's CPU is read from when the generator starts its measured
    // period (it says so on stdout): the warm-up's calls, some run before V8
    // optimized their path, are not counted.
    let cpuBefore = NaN;
    let loopBefore = NaN;
    const result = await load(() => {
      if (!server) return;
      cpuBefore = cpuSeconds(server.pid);
      loopBefore = mainThreadCpuSeconds(server.pid);
    });
    const cpuUsed = server ? cpuSeconds(server.pid) - cpuBefore : NaN;
    const loopUsed = server ? mainThreadCpuSeconds(server.pid) - loopBefore : NaN;
    // Calls still in flight at the end were let finish: a slight overestimate per call.
    const calls = result.ok;
    const rssMaxMb = server ? server.rss.maxMb(from, server.rss.now()) : 0;
    const figure: Figure = { id, server: serverName, protocol, call, connections, result, rssMaxMb };
    if (Number.isFinite(cpuUsed) && calls > 0) {
      figure.cpuUsPerCall = (cpuUsed * 1e6) / calls;
      figure.loopUsPerCall = (loopUsed * 1e6) / calls;
    }
    if (result.cpuUsPerOp !== undefined) figure.cpuUsPerCall = result.cpuUsPerOp;
    const lat = result.latency;
    log(
      `${result.throughput.toFixed(1).padStart(9)}/s  p50 ${lat.p50Ms.toFixed(2)} ms  p99 ${lat.p99Ms.toFixed(2)} ms` +
        (figure.loopUsPerCall === undefined ? "" : `  event loop ${figure.loopUsPerCall.toFixed(0)} µs/call`) +
        (figure.cpuUsPerCall === undefined ? "" : `  cpu ${figure.cpuUsPerCall.toFixed(0)} µs/call`) +
        (result.clientCpuUsPerCall === undefined ? "" : `  client ${result.clientCpuUsPerCall.toFixed(0)} µs/call`) +
        (result.failed > 0 ? `  FAILED ${result.failed}: ${result.firstError ?? "?"}` : "") +
        "\n",
    );
    const previous = this.best.get(id);
    if (!previous || previous.result.throughput < result.throughput) this.best.set(id, figure);
  }
}
