// PostgreSQL takes positional parameters ($1, $2 ...); the SQL shared with
// SQLite (../sql.ts) is written with named ones (@name). This turns the one
// into the other, compiling each statement's text once.

const compiled = new Map<string, { text: string; names: string[] }>();

/** `text` with each distinct @name replaced by $n, and the values in that order. */
export function toPositional(text: string, named: Record<string, unknown>): { text: string; values: unknown[] } {
  let statement = compiled.get(text);
  if (!statement) {
    const names: string[] = [];
    const positional = text.replace(/@(\w+)/g, (_, name: string) => {
      let index = names.indexOf(name);
      if (index < 0) index = names.push(name) - 1;
      return `$${index + 1}`;
    });
    statement = { text: positional, names };
    // Only the engines' own statement texts come here: a fixed, small set.
    compiled.set(text, statement);
  }
  const values = statement.names.map((name) => {
    if (!(name in named)) throw new Error(`no value for SQL parameter @${name}`);
    return named[name];
  });
  return { text: statement.text, values };
}
