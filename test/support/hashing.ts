// Holding the password-hashing queue from a test: the test decides when
// hashing proceeds, and waits until calls are lined up behind it.
import type { WorkQueue } from "../../src/service/work-queue.js";

/** Takes a hashing slot until the returned function is called. */
export function holdHashing(queue: WorkQueue): () => void {
  let release!: () => void;
  void queue.run(
    () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }),
  );
  return () => release();
}

/** Resolves once `count` calls wait for a hashing slot (fails after ~5 s). */
export async function untilHashWaiting(queue: WorkQueue, count: number): Promise<void> {
  for (let tries = 0; queue.stats().waiting < count; tries++) {
    if (tries > 2500) throw new Error(`expected ${count} calls waiting to hash, found ${queue.stats().waiting}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
