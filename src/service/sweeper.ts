// Periodically removes expired sessions, forgotten login-failure counts,
// unfinished passkey challenges, expired MFA tickets, finished or dead mail
// and events past their retention, so tables do not grow without bound. Reads
// never rely on it: an expired session is refused whether or not it has been
// swept yet.
import type { Repository } from "../storage/repository.js";
import { THROTTLE_MEMORY_MS } from "./login-throttle.js";

const BATCH = 1000;
/** How long sent and given-up mail rows (which keep no body) are kept for operators. */
export const MAIL_RETENTION_MS = 7 * 86_400_000;
const TOKEN_KEPT_MS = 86_400_000;

export function startSweeper(
  repo: Repository,
  now: () => number,
  intervalMs: number,
  onError: (err: unknown) => void,
  /** How long events are kept (EVENT_RETENTION_DAYS); none: events are not trimmed. */
  eventRetentionMs?: number,
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
        // Queued mail whose link died is given up (body erased); old finished rows go.
        for (;;) {
          const { expired, deleted } = await repo.sweepOutbox(now(), now() - MAIL_RETENTION_MS, BATCH);
          if (expired < BATCH && deleted < BATCH) break;
        }
        // Spent and voided tokens stay a day past their expiry, so an old link still finds its failure redirect.
        while ((await repo.sweepMailTokens(now() - TOKEN_KEPT_MS, BATCH)) >= BATCH) {
          /* more to sweep */
        }
        // Expired MFA tickets are refused anyway; they go here so the table stays small.
        while ((await repo.sweepMfaTickets(now(), BATCH)) >= BATCH) {
          /* more to sweep */
        }
        // Passkey ceremony challenges nobody finished.
        while ((await repo.sweepChallenges(now(), BATCH)) >= BATCH) {
          /* more to sweep */
        }
        while (eventRetentionMs !== undefined && (await repo.sweepEvents(now() - eventRetentionMs, BATCH)) >= BATCH) {
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
