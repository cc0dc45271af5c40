// The hashing queue's bounds, reservations included.
import { describe, expect, test } from "@jest/globals";
import { ServiceError } from "../../src/service/errors.js";
import { WorkQueue } from "../../src/service/work-queue.js";

/** Work that runs until its release is called. */
function held(queue: WorkQueue) {
  let release!: () => void;
  const started = new Promise<void>((onStart) => {
    void queue.run(() => {
      onStart();
      return new Promise<void>((resolve) => (release = resolve));
    });
  });
  return { started, release: () => release() };
}

const busy = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ServiceError && err.code === "resource_exhausted";
  }
  return false;
};

describe("WorkQueue", () => {
  test("slots, then the waiting line, then refusals", async () => {
    const queue = new WorkQueue(1, 1);
    const first = held(queue);
    await first.started;
    const second = queue.run(async () => "second");
    await expect(queue.run(async () => "third")).rejects.toMatchObject({ code: "resource_exhausted" });
    expect(queue.stats()).toEqual({ running: 1, waiting: 1 });
    first.release();
    await expect(second).resolves.toBe("second");
    expect(queue.stats()).toEqual({ running: 0, waiting: 0 });
  });

  test("a reservation holds its place until it runs or is released", async () => {
    const queue = new WorkQueue(1, 0);
    const place = queue.reserve();
    expect(busy(() => queue.reserve())).toBe(true);
    await expect(queue.run(async () => "other")).rejects.toMatchObject({ code: "resource_exhausted" });
    await expect(place.run(async () => "mine")).resolves.toBe("mine");
    // Run once; releasing afterwards gives nothing back twice.
    await expect(place.run(async () => "again")).rejects.toThrow("a reservation runs once");
    place.release();
    const next = queue.reserve();
    next.release();
    next.release();
    expect(busy(() => queue.reserve())).toBe(false);
  });

  test("a reserved place waits in line for a slot like any work", async () => {
    const queue = new WorkQueue(1, 1);
    const first = held(queue);
    await first.started;
    const place = queue.reserve();
    const order: string[] = [];
    const waiting = place.run(async () => void order.push("reserved"));
    expect(queue.stats()).toEqual({ running: 1, waiting: 1 });
    first.release();
    await waiting;
    expect(order).toEqual(["reserved"]);
  });

  test("withPlace gives its place back however the work ends", async () => {
    const queue = new WorkQueue(1, 0);
    await expect(queue.withPlace(async () => Promise.reject(new Error("failed")))).rejects.toThrow("failed");
    await expect(queue.withPlace((place) => place.run(async () => "ran"))).resolves.toBe("ran");
    expect(busy(() => queue.reserve())).toBe(false);
  });
});
