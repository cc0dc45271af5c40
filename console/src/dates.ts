// Unix seconds as text for the pages. Any int64 can arrive (an imported
// account may carry a far-future or absurd timestamp), and JavaScript dates
// stop at ±8.64e15 ms: past that toISOString throws, which would take the
// whole page down. Such a value is shown as the number it is.

export interface DateLabel {
  /** For a <time datetime="...">; undefined when the value is no representable date. */
  iso: string | undefined;
  /** What the reader sees: the date in their locale, or the raw seconds. */
  text: string;
}

export function unixSecondsLabel(seconds: bigint): DateLabel {
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return { iso: undefined, text: `${seconds} (unix seconds, not a date)` };
  return { iso: date.toISOString(), text: date.toLocaleString() };
}
