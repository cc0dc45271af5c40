// What a storage engine provides to be chosen by DATABASE_URL: the URL
// schemes it serves, how it reads the rest of the URL, and how it opens a
// Repository (with its migrations applied). Each engine's folder has one.
import type { Repository } from "./repository.js";

/** The settings (src/config/settings.ts) engines open with; each reads its own. */
export interface OpenOptions {
  databaseUrl: string;
  pgPoolSize: number;
  pgStatementTimeoutMs: number;
  sqliteBusyTimeoutMs?: number;
  searchScanMax?: number;
}

export interface StorageEngine<Target extends { engine: string }> {
  name: Target["engine"];
  /** DATABASE_URL prefixes this engine serves; the first is the one error messages show. */
  schemes: readonly string[];
  /** The engine's target from a DATABASE_URL with one of its schemes; throws an Error saying what is wrong. */
  parse(text: string): Target;
  /** Opens the database, applying migrations. Loads the engine's driver only now. */
  open(target: Target, options: OpenOptions): Promise<Repository>;
}

/** Fixes an engine's Target type from its definition. */
export const defineEngine = <Target extends { engine: string }>(engine: StorageEngine<Target>) => engine;
