// Whether memory stays flat under a long load: the slope of a least-squares
// line through RSS samples, times the period's length.
import type { RssSample } from "./rss.js";

export function growthOverPeriodMb(samples: RssSample[]): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const meanT = samples.reduce((a, s) => a + s.atMs, 0) / n;
  const meanM = samples.reduce((a, s) => a + s.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.atMs - meanT) * (s.mb - meanM);
    den += (s.atMs - meanT) ** 2;
  }
  const slopePerMs = den === 0 ? 0 : num / den;
  return slopePerMs * (samples[n - 1]!.atMs - samples[0]!.atMs);
}

/** Keeps about one sample per `everyMs` (for the JSON report). */
export function thin(samples: RssSample[], everyMs = 1000): RssSample[] {
  const kept: RssSample[] = [];
  for (const s of samples) if (kept.length === 0 || s.atMs - kept[kept.length - 1]!.atMs >= everyMs) kept.push(s);
  return kept;
}
