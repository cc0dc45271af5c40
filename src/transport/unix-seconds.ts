// The contract's times are int64 unix seconds; the service keeps milliseconds.

/** Whole unix seconds (rounded down) of a time in milliseconds, as the contract's int64 fields carry it. */
export const unixSeconds = (ms: number): bigint => BigInt(Math.floor(ms / 1000));
