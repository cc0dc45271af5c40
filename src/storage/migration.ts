// One versioned schema change. Each engine lists its own (sqlite/migrations.ts,
// postgres/migrations.ts) under the same version numbers; they only add.
export interface Migration {
  version: number;
  name: string;
  /** One or more statements, applied in one transaction with the version's record. */
  sql: string;
}
