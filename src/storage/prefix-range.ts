// Prefix search as a range scan: every string starting with `prefix` lies in
// [prefix, upperBound(prefix)) in code point order, which is also UTF-8 byte
// order (SQLite's BINARY collation, PostgreSQL's COLLATE "C"). A range on an
// indexed column is served by the index in both engines, unlike LIKE, whose
// index use depends on collation and escaping.

/** The smallest string greater than every string that starts with `prefix`, or undefined if none. */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    let next = last + 1;
    if (next === 0xd800) next = 0xe000; // skip the surrogate range
    if (next <= 0x10ffff) return String.fromCodePoint(...points, next);
    // last was U+10FFFF: carry into the previous character
  }
  return undefined;
}
