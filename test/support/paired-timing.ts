// Compares how long two kinds of call take, the only robust way on a busy
// shared machine: the two run back to back in pairs (which goes first
// alternates), so a load spike from another suite touches both calls of a
// pair; the median of the pairs' ratios cancels it where a ratio of two
// medians taken over a minute does not. Never an absolute time.

export interface PairedTiming {
  /** Median milliseconds of each kind. */
  a: number;
  b: number;
  /** The median pair ratio, folded to be at least 1. */
  ratio: number;
}

/** Milliseconds one call of `call` takes. */
export async function timeCall(call: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await call();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function comparePaired(
  a: () => Promise<void>,
  b: () => Promise<void>,
  { pairs, warmUp }: { pairs: number; warmUp: number },
): Promise<PairedTiming> {
  for (let i = 0; i < warmUp; i++) {
    await a();
    await b();
  }
  const times = { a: [] as number[], b: [] as number[] };
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    let ta: number;
    let tb: number;
    if (i % 2 === 0) {
      ta = await timeCall(a);
      tb = await timeCall(b);
    } else {
      tb = await timeCall(b);
      ta = await timeCall(a);
    }
    times.a.push(ta);
    times.b.push(tb);
    ratios.push(ta / tb);
  }
  const pairRatio = median(ratios);
  return { a: median(times.a), b: median(times.b), ratio: Math.max(pairRatio, 1 / pairRatio) };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
