// Both engines compute a lock as min(cap, base << n) in 64-bit integers.
import type { ThrottlePolicy } from "./repository.js";

/**
 * The largest shift worth making: the first at which base << n reaches the
 * cap. Bounding n by it (not by a fixed number) keeps base << n from
 * overflowing 64 bits, which would wrap to a negative lock: no lock at all.
 */
export function lockShiftLimit(policy: ThrottlePolicy): number {
  const base = Math.max(1, policy.baseLockMs);
  if (policy.maxLockMs <= base) return 0;
  return Math.min(62, Math.ceil(Math.log2(policy.maxLockMs / base)));
}
