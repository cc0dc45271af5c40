// Compares two V8 CPU profiles per call: where does B (the service) spend
// event-loop time that A (its floor) does not? Each profile's busy time is
// spread over its calls using the event-loop µs/call the bench printed.
//   node dist/bench/profile-compare.js A.cpuprofile US_PER_CALL_A B.cpuprofile US_PER_CALL_B [--top N]
import fs from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [fileA, usA, fileB, usB, ...rest] = process.argv.slice(2);
if (!fileA || !usA || !fileB || !usB) {
  process.stderr.write("usage: profile-compare A.cpuprofile US_PER_CALL_A B.cpuprofile US_PER_CALL_B [--top N]\n");
  process.exit(2);
}
const top = Number(rest[rest.indexOf("--top") + 1] ?? 40) || 40;

const shortUrl = (url: string) =>
  url === ""
    ? ""
    : url
        .replace(/^.*node_modules\//, "")
        .replace(/^.*\/dist\//, "")
        .replace(/^file:\/\//, "");

/** Event-loop µs per call spent in each function (self time), by "name url:line". */
function perCall(file: string, usPerCall: number): Map<string, number> {
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === "(idle)") return;
    const dt = profile.timeDeltas[i] ?? 0;
    const key = `${n.callFrame.functionName || "(anonymous)"} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  });
  for (const [key, us] of self) self.set(key, (us / busy) * usPerCall);
  return self;
}

const a = perCall(fileA, Number(usA));
const b = perCall(fileB, Number(usB));
const keys = new Set([...a.keys(), ...b.keys()]);
const rows = [...keys].map((k) => ({ k, a: a.get(k) ?? 0, b: b.get(k) ?? 0 })).sort((x, y) => y.b - y.a - (x.b - x.a));
process.stdout.write(`µs per call: A ${usA}, B ${usB}; by B − A (largest first)\n`);
process.stdout.write(`${"B−A".padStart(7)} ${"A".padStart(7)} ${"B".padStart(7)}  function\n`);
for (const r of rows.slice(0, top)) {
  process.stdout.write(
    `${(r.b - r.a).toFixed(1).padStart(7)} ${r.a.toFixed(1).padStart(7)} ${r.b.toFixed(1).padStart(7)}  ${r.k}\n`,
  );
}
