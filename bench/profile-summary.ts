// Summarises a V8 CPU profile (node --cpu-prof, e.g. from `npm run bench --
// --profile`): self time by function and by package/source folder, and the
// inclusive time of the functions named on the command line.
// Percentages are of the busy time (samples that were not idle).
//   node dist/bench/profile-summary.js FILE.cpuprofile [--top N] [--inclusive name,name]
//     [--inclusive-place dist/src] [--callers name]
import fs from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: profile-summary FILE.cpuprofile [--top N] [--inclusive name,name]\n");
  process.exit(2);
}
const flag = (name: string) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const top = Number(flag("--top") ?? 30);
const inclusiveNames = (flag("--inclusive") ?? "").split(",").filter(Boolean);
const callersOf = flag("--callers");
/** Inclusive time of every function whose source URL contains this (e.g. "dist/src"). */
const inclusivePlace = flag("--inclusive-place");

const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
let totalUs = 0;
let idleUs = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  totalUs += dt;
  if (byId.get(id)!.callFrame.functionName === "(idle)") idleUs += dt;
});
const busyUs = totalUs - idleUs;

const where = (url: string) => {
  if (url === "") return "(native/V8)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const own = /\/(dist\/[^/]+\/[^/]+)\//.exec(url);
  if (own) return own[1]!;
  if (url.startsWith("node:")) return url;
  return url.replace(/^.*\//, "");
};
const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || "(anonymous)"} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  if (n.callFrame.functionName === "(idle)") continue;
  add(byFunction, label(n), us);
  add(byPlace, n.callFrame.url === "" ? n.callFrame.functionName || "(native)" : where(n.callFrame.url), us);
}

const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
const print = (title: string, map: Map<string, number>, n: number) => {
  process.stdout.write(`\n${title}\n`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n))
    process.stdout.write(`${pct(us)}  ${key}\n`);
};
process.stdout.write(`${file}: ${(totalUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy\n`);
print("Self time by place", byPlace, top);
print("Self time by function", byFunction, top);

if (inclusiveNames.length > 0) {
  // A sample counts for a name when that function is anywhere on its stack.
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)!.callFrame.functionName;
      if (inclusiveNames.includes(name)) seen.add(name);
    }
    for (const name of seen) add(inclusive, name, profile.timeDeltas[i] ?? 0);
  });
  print("Inclusive time", inclusive, inclusiveNames.length);
}

if (callersOf) {
  // Inclusive time of `callersOf` by the chain of its three nearest callers.
  const chains = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (byId.get(cur)!.callFrame.functionName !== callersOf) continue;
      const chain: string[] = [];
      for (let up = parent.get(cur); up !== undefined && chain.length < 3; up = parent.get(up))
        chain.push(label(byId.get(up)!));
      add(chains, chain.join(" < "), profile.timeDeltas[i] ?? 0);
      break;
    }
  });
  print(`Callers of ${callersOf}`, chains, top);
}

if (inclusivePlace) {
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (!n.callFrame.url.includes(inclusivePlace)) continue;
      seen.add(
        `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*\/dist\//, "")}:${n.callFrame.lineNumber + 1}`,
      );
    }
    for (const key of seen) add(inclusive, key, profile.timeDeltas[i] ?? 0);
  });
  print(`Inclusive time in ${inclusivePlace}`, inclusive, top);
}
