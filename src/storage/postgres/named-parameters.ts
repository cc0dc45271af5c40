// PostgreSQL takes positional parameters ($1, $2 ...); statements shared with
// SQLite are written with named ones (@name). This turns the one into the other.

/** `text` with each distinct @name replaced by $n, and the values in that order. */
export function toPositional(text: string, named: Record<string, unknown>): { text: string; values: unknown[] } {
  const order: string[] = [];
  const positional = text.replace(/@(\w+)/g, (_, name: string) => {
    if (!(name in named)) throw new Error(`no value for SQL parameter @${name}`);
    let index = order.indexOf(name);
    if (index < 0) index = order.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text: positional, values: order.map((name) => named[name]) };
}
