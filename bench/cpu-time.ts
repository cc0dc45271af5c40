// CPU time a process has used (user + system, all its threads), from
// /proc/<pid>/stat. Divided by the calls served, it gives the CPU cost of one
// call: steadier than throughput on a machine shared with other work.
import fs from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** All threads of the process. */
export function cpuSeconds(pid: number): number {
  return fromStat(`/proc/${pid}/stat`);
}

/** The main thread alone: the event loop, which bounds the throughput of a Node server. */
export function mainThreadCpuSeconds(pid: number): number {
  return fromStat(`/proc/${pid}/task/${pid}/stat`);
}

function fromStat(file: string): number {
  try {
    const stat = fs.readFileSync(file, "utf8");
    // Fields after the command name (which is in parentheses and may hold spaces).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}
