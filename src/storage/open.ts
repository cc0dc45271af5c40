// Opens the storage engine DATABASE_URL names (see engines.ts), with migrations applied.
import { parseDatabaseUrl } from "./database-url.js";
import type { OpenOptions } from "./engine.js";
import { STORAGE_ENGINES } from "./engines.js";
import type { Repository } from "./repository.js";

export type { OpenOptions } from "./engine.js";

export function openRepository(options: OpenOptions): Promise<Repository> {
  const target = parseDatabaseUrl(options.databaseUrl);
  const engine = STORAGE_ENGINES.find((e) => e.name === target.engine)!;
  // Each engine's open takes its own target: the one its parse made.
  return (engine.open as (target: unknown, options: OpenOptions) => Promise<Repository>)(target, options);
}
