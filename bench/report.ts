// The bench's table: every service figure with its floor and the ratio
// between them, then the floors themselves, then the targets. The same rows
// are printed as text and written as Markdown (for docs/benchmarks.md).
import type { EngineReport, Figure } from "./figures.js";
import { checkTargets, floorsOf, ratio, type TargetCheck, type TargetOptions } from "./targets.js";

type Table = { head: string[]; rows: string[][] };

const FLOOR_NAMES: Record<string, string> = {
  "floor-bcrypt": "raw bcrypt",
  "floor-connect": "bare Connect",
  "floor-http-sqlite": "node:http + SQLite",
};

const perSecond = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const ms = (n: number) => n.toFixed(2);

function figureCells(f: Figure): string[] {
  const lat = f.result.latency;
  const failed = f.result.failed > 0 ? ` (${f.result.failed} failed)` : "";
  return [
    f.call,
    f.protocol,
    String(f.connections),
    perSecond(f.result.throughput) + failed,
    ms(lat.p50Ms),
    ms(lat.p99Ms),
  ];
}

/** Event-loop CPU per call: steadier than req/s when other work shares the machine. */
const loopCell = (f: Figure | undefined) => (f?.loopUsPerCall === undefined ? "—" : f.loopUsPerCall.toFixed(0));

export function callsTable(report: EngineReport): Table {
  const rows: string[][] = [];
  for (const figure of report.figures.filter((f) => f.server === "service")) {
    const floors = floorsOf(figure);
    if (floors.length === 0)
      rows.push([...figureCells(figure), loopCell(figure), "—", "—", "—", "—", figure.rssMaxMb.toFixed(0)]);
    for (const floorId of floors) {
      const floor = report.figures.find((f) => f.id === floorId);
      // The node:http + SQLite floor exists only for the SQLite pass.
      if (!floor && floorId.startsWith("floor-http-sqlite")) continue;
      const r = ratio(report, figure, floorId);
      rows.push([
        ...figureCells(figure),
        loopCell(figure),
        floor
          ? `${FLOOR_NAMES[floor.server] ?? floor.server} ${floor.call === "compare" || floor.call === "hash" ? floor.call : ""}`.trim()
          : floorId,
        floor ? perSecond(floor.result.throughput) : "not measured",
        loopCell(floor),
        r === undefined ? "—" : r.toFixed(2),
        figure.rssMaxMb.toFixed(0),
      ]);
    }
  }
  return {
    head: [
      "Call",
      "Protocol",
      "c",
      "req/s",
      "p50 ms",
      "p99 ms",
      "loop µs",
      "Floor",
      "floor req/s",
      "floor loop µs",
      "ratio",
      "RSS MB",
    ],
    rows,
  };
}

export function floorsTable(report: EngineReport): Table {
  return {
    head: ["Floor", "Call", "Protocol", "c", "req/s", "p50 ms", "p99 ms", "loop µs"],
    rows: report.figures
      .filter((f) => f.server !== "service")
      .map((f) => [FLOOR_NAMES[f.server] ?? f.server, ...figureCells(f), loopCell(f)]),
  };
}

export function targetsTable(checks: TargetCheck[]): Table {
  return {
    head: ["Target", "Measured", "Met"],
    rows: checks.map((c) => [c.target, c.measured, c.met === undefined ? "n/a" : c.met ? "yes" : "NO"]),
  };
}

export function asText(table: Table): string {
  const widths = table.head.map((h, i) => Math.max(h.length, ...table.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(table.head), widths.map((w) => "-".repeat(w)).join("  "), ...table.rows.map(line)].join("\n");
}

export function asMarkdown(table: Table): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(table.head), line(table.head.map(() => "---")), ...table.rows.map(line)].join("\n");
}

export function engineSections(report: EngineReport, options: TargetOptions, format: (t: Table) => string): string {
  const title = `${report.engine === "sqlite" ? "SQLite" : "PostgreSQL"}: ${report.database}; ${report.users.toLocaleString("en")} users seeded in ${report.seedSeconds.toFixed(1)} s`;
  return [
    title,
    "",
    format(callsTable(report)),
    "",
    format(floorsTable(report)),
    "",
    format(targetsTable(checkTargets(report, options))),
  ].join("\n");
}
