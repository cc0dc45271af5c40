// Wraps a Repository so every call is timed (for the database metrics)
// without the engines knowing about metrics.
import type { Repository } from "../storage/repository.js";

export function timedRepository(repo: Repository, observe: (operation: string, seconds: number) => void): Repository {
  return new Proxy(repo, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function" || typeof property !== "string" || property === "exportUsers") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        const start = process.hrtime.bigint();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          observe(property, Number(process.hrtime.bigint() - start) / 1e9);
        }
      };
    },
  });
}
