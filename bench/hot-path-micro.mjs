// `node bench/hot-path-micro.mjs`: see docs/benchmarks.md (issue 12 speed work). Not part of npm run bench.
// Interleaved A/B micro-measures of the per-call work removed from the hot path (ns per call, median of rounds).

import crypto from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(new URL("../package.json", import.meta.url));
const { pino } = require("pino");

const N = 20000,
  ROUNDS = 15;
const time = (fn) => {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  return Number(process.hrtime.bigint() - t) / N;
};
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function ab(name, a, b) {
  const as = [],
    bs = [];
  for (let r = 0; r < ROUNDS; r++) {
    as.push(time(a));
    bs.push(time(b));
  }
  console.log(
    `${name}: before ${median(as).toFixed(0)} ns, after ${median(bs).toFixed(0)} ns, saved ${(median(as) - median(bs)).toFixed(0)} ns per call`,
  );
}

// 1. The call log line (pino to a file, as stdout to a collector) vs a sampled-out call (a counter bump).
const logger = pino(
  {
    level: "info",
    base: { service: "users" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (l) => ({ level: l }) },
  },
  pino.destination({ dest: "/dev/null", sync: true }),
);
const calls = logger.child({}, { redact: { paths: [] } });
let unlogged = 0;
process.on("exit", () => unlogged < 0 && console.log(unlogged));
const line = (i) => ({
  request_id: crypto.randomUUID(),
  namespace: "bench",
  rpc: "users.v1.Users/ReadSession",
  protocol: "connect",
  code: "ok",
  duration_ms: i / 1000,
});
ab(
  "call log line vs sampled out",
  (i) => calls.info(line(i), "call"),
  (i) => {
    if (Date.now() < 0) calls.info(line(i));
    unlogged++;
  },
);

// 3. API key: SHA-256 then a lookup by digest vs a lookup by the key as sent.
const key = `usk_${crypto.randomBytes(32).toString("base64url")}`;
const byDigest = new Map([[crypto.hash("sha256", key, "buffer").toString("base64"), 1]]);
const byKey = new Map([[key, 1]]);
const fresh = () => key.slice(0, 20) + key.slice(20); // a new string each call, as a header value is
ab(
  "API key cache hit",
  () => byDigest.get(crypto.hash("sha256", fresh(), "buffer").toString("base64")),
  () => byKey.get(fresh()),
);

// 4. The timed repository: a wrapper made on every property read vs once.
const target = {
  async getSession(a) {
    return a;
  },
};
const slow = new Proxy(target, {
  get(t, p, r) {
    const v = Reflect.get(t, p, r);
    return async (...args) => {
      const s = process.hrtime.bigint();
      try {
        return await v.apply(t, args);
      } finally {
        Number(process.hrtime.bigint() - s);
      }
    };
  },
});
const cache = new Map();
const fast = new Proxy(target, {
  get(t, p, r) {
    const m = cache.get(p);
    if (m) return m;
    const v = Reflect.get(t, p, r);
    const w = async (...args) => {
      const s = process.hrtime.bigint();
      try {
        return await v.apply(t, args);
      } finally {
        Number(process.hrtime.bigint() - s);
      }
    };
    cache.set(p, w);
    return w;
  },
});
ab(
  "timed repository method lookup + call (sync part)",
  (i) => {
    slow.getSession(i);
  },
  (i) => {
    fast.getSession(i);
  },
);
