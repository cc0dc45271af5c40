// Every storage engine, chosen by DATABASE_URL's scheme. A new engine is its
// own folder (with an engine.ts, see engine.ts here) and one line below.
import { postgresEngine } from "./postgres/engine.js";
import { sqliteEngine } from "./sqlite/engine.js";

export const STORAGE_ENGINES = [sqliteEngine, postgresEngine] as const;
