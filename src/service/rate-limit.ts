// Fixed-window rate limits counted in the database (Repository.chargeRateLimit),
// so every replica shares each count. A window starts at a multiple of its
// length; a refusal tells the caller when the next one starts.
import type { Repository } from "../storage/repository.js";

export interface RateWindow {
  repo: Repository;
  now: () => number;
  windowSeconds: number;
}

/**
 * Counts one event in `bucket`'s current window unless it already holds
 * `limit`. Returns undefined when counted, else the seconds until the next
 * window (for retry-after).
 */
export async function chargeWindow(window: RateWindow, bucket: string, limit: number): Promise<number | undefined> {
  const windowMs = window.windowSeconds * 1000;
  const at = window.now();
  const windowStart = at - (at % windowMs);
  if (await window.repo.chargeRateLimit(bucket, windowStart, limit)) return undefined;
  return Math.max(1, Math.ceil((windowStart + windowMs - at) / 1000));
}
