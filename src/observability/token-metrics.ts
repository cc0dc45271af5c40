// Access tokens issued by this replica (CreateToken).
import { Counter, type Registry } from "prom-client";

export function countTokens(registry: Registry): () => void {
  const issued = new Counter({
    name: "users_access_tokens_issued_total",
    help: "Access tokens issued by this replica (CreateToken).",
    registers: [registry],
  });
  return () => issued.inc();
}
