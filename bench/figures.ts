// What one engine's pass of the bench measured.
import type { LoadResult } from "./load-spec.js";
import type { RssSample } from "./rss.js";

/** One measured load: a call, over one protocol, against one server. */
export interface Figure {
  /** e.g. "service connect-json ReadSession c16", "floor-connect grpc Read c16". */
  id: string;
  server: string;
  protocol: string;
  call: string;
  connections: number;
  result: LoadResult;
  /** Largest RSS of the server under load while this figure was measured, in MB. */
  rssMaxMb: number;
  /** The server's CPU time (all threads) per successful call of the measured period, in µs. */
  cpuUsPerCall?: number;
  /** The same for its main thread (the event loop) alone. */
  loopUsPerCall?: number;
}

export interface SoakReport {
  seconds: number;
  /** Growth over the soak from a least-squares line through the samples after its first fifth, in MB. */
  growthMb: number;
  startMb: number;
  endMb: number;
  maxMb: number;
  result: LoadResult;
  /** One sample a second, for plots. */
  samples: RssSample[];
}

export interface EngineReport {
  engine: "sqlite" | "postgres";
  /** Where the data lived, in words. */
  database: string;
  users: number;
  seedSeconds: number;
  figures: Figure[];
  /** Login and ReadSession loaded at once. */
  mixed?: { login: LoadResult; readSession: LoadResult };
  soak?: SoakReport;
  /** Largest service RSS over the whole pass, in MB. */
  serviceRssMaxMb: number;
}

export function figureId(server: string, protocol: string, call: string, connections: number): string {
  return `${server} ${protocol} ${call} c${connections}`;
}
