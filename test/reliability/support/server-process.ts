// The server as a separate process (bin/users-service.js serve, via
// test/support/cli.ts), for tests that kill it, signal it or watch it die.
import type { ChildProcess } from "node:child_process";
import { startCliServer } from "../../support/cli.js";

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Stops it with SIGTERM (or the given signal) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const started = await startCliServer(env);
  const { child } = started;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    url: `http://127.0.0.1:${started.port}`,
    port: started.port,
    output: started.output,
    exited,
    alive,
    stop(signal = "SIGTERM") {
      if (alive()) child.kill(signal);
      return exited;
    },
  };
}
