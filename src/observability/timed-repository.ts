// Wraps a Repository so every call is timed (for the database metrics)
// without the engines knowing about metrics.
import type { Repository } from "../storage/repository.js";

export function timedRepository(repo: Repository, observe: (operation: string, seconds: number) => void): Repository {
  // Each method's wrapper is made once, on its first use, not on every call.
  const wrappers = new Map<string | symbol, unknown>();
  return new Proxy(repo, {
    get(target, property, receiver) {
      const made = wrappers.get(property);
      if (made !== undefined) return made;
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      const wrapper =
        typeof property !== "string" || property === "exportUsers"
          ? value.bind(target)
          : async (...args: unknown[]) => {
              const start = process.hrtime.bigint();
              try {
                return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
              } finally {
                observe(property, Number(process.hrtime.bigint() - start) / 1e9);
              }
            };
      wrappers.set(property, wrapper);
      return wrapper;
    },
  });
}
