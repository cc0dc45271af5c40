// Command-line flags of `npm run bench` and the durations they imply.
import os from "node:os";

export interface BenchOptions {
  mode: "default" | "quick" | "soak";
  /** Seconds of load before each measured period (not counted). */
  warmupSeconds: number;
  /**
   * Calls a figure's warm-up goes on until (in 5 s steps, at most
   * WARMUP_MAX_SECONDS): V8 optimizes a function only after it has run many
   * times, so a call bounded by bcrypt (about 25 a second) would otherwise be
   * measured while its path is still being compiled. Faster calls pass this in
   * their first seconds.
   */
  warmupCalls: number;
  /** Seconds each figure is measured for. */
  durationSeconds: number;
  /** Calls in flight for throughput figures. */
  connections: number;
  /**
   * Calls in flight for the calls bounded by bcrypt (Login, Create, the
   * bcrypt floors): twice the hashing slots, enough to keep every core hashing
   * without a long queue (whose latency is not the service's).
   */
  hashConnections: number;
  /** ReadSession calls a second while logins saturate hashing (an app's steady traffic, not a flood). */
  mixedReadRate: number;
  /** Users seeded in the benchmark namespace. */
  users: number;
  /** The same for the PostgreSQL pass (its bulk loader inserts row by row: a million takes minutes). */
  postgresUsers: number;
  bcryptCost: number;
  /** Seconds of ReadSession load during which server RSS must stay flat. */
  soakSeconds: number;
  /** Run every floor/subject pair this many times; the best of each is kept. */
  rounds: number;
  /** "auto": when PostgreSQL is installed or BENCH_POSTGRES_URL is set. */
  postgres: "auto" | "off";
  /** Only figures whose id contains one of these (e.g. "ReadSession"); empty = all. */
  only: string[];
  /** Start the service with --cpu-prof (profiles under bench/results/profiles/). */
  profile: boolean;
}

export const USAGE = `npm run bench [-- options]

  --quick          under a minute: SQLite only, 20,000 users, short periods
  --soak           the full run with a 5-minute ReadSession soak (for docs/benchmarks.md)
  --no-postgres    SQLite only
  --users N        users to seed (default 1,000,000)
  --postgres-users N  users to seed for the PostgreSQL pass (default 200,000)
  --duration S     seconds measured per figure (default 10)
  --warmup S       seconds of warm-up before each figure (default 3)
  --warmup-calls N  ...and on, 5 s at a time (60 s at most), until N calls succeeded (default 1000)
  --rounds N       measure each floor/subject pair N times, keep the best (default 1)
  --only A,B       only figures whose id contains A or B (e.g. ReadSession,grpc)
  --profile        run the service with node --cpu-prof

Environment: BENCH_POSTGRES_URL (use this server instead of a throwaway cluster),
BENCH_BCRYPT_COST (default 10).
`;

export function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes("--quick");
  const options: BenchOptions = {
    mode: quick ? "quick" : argv.includes("--soak") ? "soak" : "default",
    warmupSeconds: quick ? 0.5 : 3,
    warmupCalls: quick ? 0 : 1000,
    durationSeconds: quick ? 1.2 : 10,
    connections: 16,
    hashConnections: 2 * os.availableParallelism(),
    mixedReadRate: 1000,
    users: quick ? 20_000 : 1_000_000,
    postgresUsers: 200_000,
    bcryptCost: Number(process.env.BENCH_BCRYPT_COST ?? 10),
    soakSeconds: quick ? 3 : argv.includes("--soak") ? 300 : 60,
    rounds: 1,
    postgres: quick || argv.includes("--no-postgres") ? "off" : "auto",
    only: [],
    profile: argv.includes("--profile"),
  };
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const number = (flag: string, min: number): number | undefined => {
    const text = value(flag);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) throw new Error(`${flag}: must be a number ≥ ${min}`);
    return n;
  };
  options.users = number("--users", 1000) ?? options.users;
  options.postgresUsers = number("--postgres-users", 1000) ?? Math.min(options.postgresUsers, options.users);
  options.durationSeconds = number("--duration", 0.5) ?? options.durationSeconds;
  options.warmupSeconds = number("--warmup", 0) ?? options.warmupSeconds;
  options.warmupCalls = number("--warmup-calls", 0) ?? options.warmupCalls;
  options.rounds = number("--rounds", 1) ?? options.rounds;
  options.only = (value("--only") ?? "").split(",").filter(Boolean);
  if (!Number.isInteger(options.bcryptCost) || options.bcryptCost < 4 || options.bcryptCost > 15) {
    throw new Error("BENCH_BCRYPT_COST: must be an integer from 4 to 15");
  }
  return options;
}
