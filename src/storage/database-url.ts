// DATABASE_URL names the storage engine (by its scheme) and where its data lives.
import { STORAGE_ENGINES } from "./engines.js";

type Registered = (typeof STORAGE_ENGINES)[number];
export type DatabaseTarget = ReturnType<Registered["parse"]>;

function engineFor(text: string): Registered | undefined {
  return STORAGE_ENGINES.find((engine) => engine.schemes.some((scheme) => text.startsWith(scheme)));
}

export function parseDatabaseUrl(text: string): DatabaseTarget {
  const engine = engineFor(text);
  if (!engine) {
    const schemes = STORAGE_ENGINES.map((e) => `"${e.schemes[0]}"`);
    throw new Error(`must start with ${schemes.slice(0, -1).join(", ")} or ${schemes[schemes.length - 1]}`);
  }
  return engine.parse(text);
}
