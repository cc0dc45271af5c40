// Periodically removes expired sessions and forgotten login-failure counts, so
// tables do not grow without bound. Reads never rely on it: an expired session
// is refused whether or not it has been swept yet.
import type { Repository } from "../storage/repository.js";
import { THROTTLE_MEMORY_MS } from "./login-throttle.js";

const BATCH = 1000;

export function startSweeper(
  repo: Repository,
  now: () => number,
  intervalMs: number,
  onError: (err: unknown) => void,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void (async () => {
      try {
        // Small batches keep each write transaction short.
        while ((await repo.sweep(now(), now() - THROTTLE_MEMORY_MS, BATCH)) >= BATCH) {
          /* more to sweep */
        }
      } catch (err) {
        onError(err);
      } finally {
        running = false;
      }
    })();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
