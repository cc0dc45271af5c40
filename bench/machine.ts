// What the bench ran on, for the report (figures mean little without it).
import os from "node:os";

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started and ended (others' work skews figures). */
  loadAverageStart: number;
  loadAverageEnd?: number;
  uvThreadpoolSize: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageStart: os.loadavg()[0]!,
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? "4 (default)",
  };
}

export function describeMachine(m: MachineInfo): string {
  const load = `load average ${m.loadAverageStart.toFixed(2)} at start${m.loadAverageEnd === undefined ? "" : `, ${m.loadAverageEnd.toFixed(2)} at end`}`;
  return `${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; ${load}; libuv pool ${m.uvThreadpoolSize}`;
}
