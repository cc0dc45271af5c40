// The targets, checked against one engine's figures.
import os from "node:os";
import { type EngineReport, type Figure, figureId } from "./figures.js";
import type { BenchOptions } from "./options.js";

export interface TargetCheck {
  target: string;
  measured: string;
  /** undefined: not measured in this run (e.g. --quick seeds fewer than a million users). */
  met: boolean | undefined;
}

const MILLION = 1_000_000;

/** The floor each service figure is divided by (the first is the one its target names). */
export function floorsOf(figure: Figure): string[] {
  const { protocol, call, connections: c } = figure;
  if (figure.server !== "service") return [];
  // The bcrypt floors run one operation per core, as the service hashes.
  const cores = os.availableParallelism();
  if (call === "Login") return [figureId("floor-bcrypt", "bcrypt", "compare", cores)];
  if (call === "Create") return [figureId("floor-bcrypt", "bcrypt", "hash", cores)];
  if (c === 1) return [];
  // Every Search workload answers the same shape: the bare Search bounds them all.
  const floorCall = call.startsWith("Search") ? "Search" : call;
  const connect = figureId("floor-connect", protocol === "m3o" ? "connect-json" : protocol, floorCall, c);
  if (call === "ReadSession" && protocol === "connect-json") {
    return [connect, figureId("floor-http-sqlite", "connect-json", "ReadSession", c)];
  }
  return [connect];
}

export function ratio(report: EngineReport, figure: Figure, floorId: string): number | undefined {
  const floor = report.figures.find((f) => f.id === floorId);
  return floor && floor.result.throughput > 0 ? figure.result.throughput / floor.result.throughput : undefined;
}

export type TargetOptions = Pick<BenchOptions, "connections" | "hashConnections" | "mixedReadRate">;

export function checkTargets(report: EngineReport, options: TargetOptions): TargetCheck[] {
  const { connections, hashConnections } = options;
  const checks: TargetCheck[] = [];
  const find = (id: string) => report.figures.find((f) => f.id === id);
  const ratioTarget = (id: string, min: number, text: string) => {
    const figure = find(id);
    const r = figure && ratio(report, figure, floorsOf(figure)[0]!);
    checks.push({
      target: text,
      measured: r === undefined ? "not measured" : `${r.toFixed(2)} ×`,
      met: r === undefined ? undefined : r >= min,
    });
  };
  ratioTarget(figureId("service", "connect-json", "Login", hashConnections), 0.95, "Login ≥ 0.95 × raw bcrypt compare");
  // Throughput of bcrypt-bound calls follows the CPU share other processes leave; CPU per call does not.
  const login = find(figureId("service", "connect-json", "Login", hashConnections));
  const compare = login && report.figures.find((f) => f.id === floorsOf(login)[0]);
  if (login?.cpuUsPerCall !== undefined && compare?.cpuUsPerCall !== undefined) {
    const efficiency = compare.cpuUsPerCall / login.cpuUsPerCall;
    const client = login.result.clientCpuUsPerCall;
    checks[checks.length - 1]!.measured +=
      ` (CPU per call: ${efficiency.toFixed(2)} × as efficient as raw bcrypt` +
      (client === undefined
        ? ")"
        : `; the load generator, on the same cores, ${(client / 1000).toFixed(1)} ms per call)`);
  }
  ratioTarget(
    figureId("service", "connect-json", "ReadSession", connections),
    0.85,
    "ReadSession (Connect JSON) ≥ 0.85 × bare Connect",
  );
  ratioTarget(
    figureId("service", "connect-json", "Read", connections),
    0.85,
    "Read (Connect JSON) ≥ 0.85 × bare Connect",
  );

  const atMillion = report.users >= MILLION;
  const search = find(figureId("service", "connect-json", "Search", 1));
  checks.push({
    target: "Search by username prefix, 1,000,000 users, c=1: p99 < 5 ms",
    measured: search
      ? `p99 ${search.result.latency.p99Ms.toFixed(2)} ms with ${report.users.toLocaleString("en")} users`
      : "not measured",
    met: search && atMillion ? search.result.latency.p99Ms < 5 : undefined,
  });
  checks.push({
    target: "Seeding 1,000,000 users with the bulk loader < 120 s",
    measured: `${report.seedSeconds.toFixed(1)} s for ${report.users.toLocaleString("en")} users`,
    met: atMillion ? (report.seedSeconds * MILLION) / report.users < 120 : undefined,
  });
  const mixed = report.mixed;
  checks.push({
    target: `ReadSession p99 < 25 ms (at ${options.mixedReadRate}/s) while logins saturate hashing`,
    measured: mixed
      ? `p99 ${mixed.readSession.latency.p99Ms.toFixed(2)} ms (Login ${mixed.login.throughput.toFixed(1)}/s alongside)`
      : "not measured",
    met: mixed ? mixed.readSession.latency.p99Ms < 25 && mixed.readSession.failed === 0 : undefined,
  });
  checks.push({
    target: "Server RSS < 200 MB through the whole run",
    measured: `max ${report.serviceRssMaxMb.toFixed(1)} MB`,
    met: report.serviceRssMaxMb < 200,
  });
  const soak = report.soak;
  checks.push({
    target: "RSS flat over a ReadSession soak (fitted growth < 5 MB)",
    measured: soak
      ? `${soak.seconds} s: ${soak.startMb.toFixed(1)} → ${soak.endMb.toFixed(1)} MB, fit ${soak.growthMb >= 0 ? "+" : ""}${soak.growthMb.toFixed(1)} MB`
      : "not measured",
    // A soak shorter than a minute (--quick) says nothing about leaks.
    met: soak && soak.seconds >= 60 ? soak.growthMb < 5 : undefined,
  });
  return checks;
}
