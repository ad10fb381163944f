// Summarises a V8 .cpuprofile (from `npm run bench -- --profile DIR`): self time by function and by where the code
// lives (hubmirror src, dependencies, Node internals, GC, idle), inclusive time of hubmirror's own functions.
// Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N]
import { readFileSync } from "node:fs";

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

function where(url: string, name: string): string {
  if (name.startsWith("(")) return name; // (garbage collector), (idle), (program), (root)
  if (url.includes("/.bench-build-") || url.includes("/src/")) return "hubmirror";
  if (url.startsWith("wasm://")) return "wasm (undici's llhttp)";
  if (url.includes("/node_modules/")) return `dep ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]}`;
  if (url.startsWith("node:")) return "node internals";
  if (url === "") return "native";
  return "hubmirror";
}

const short = (url: string) => url.replace(/^file:\/\/.*?\/(build-\d+|src)\//, "").replace(/^file:\/\//, "");

export function summarise(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const key = `${functionName || "(anonymous)"} ${short(url)}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + us);
    const area = where(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    // Inclusive time of hubmirror functions: walk up the stack, count each distinct frame once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (!f || where(f.url, f.functionName) !== "hubmirror") continue;
      const k = `${f.functionName || "(anonymous)"} ${short(f.url)}:${f.lineNumber + 1}`;
      if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + us);
      seen.add(k);
    }
  }
  const pct = (us: number) =>
    `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(7)} s`;
  const list = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${pct(us)}  ${k}`);
  return [
    `profile: ${(total / 1e6).toFixed(2)} s sampled`,
    "by area (self):",
    ...list(areas, 20),
    `top ${top} functions (self):`,
    ...list(self, top),
    `top ${top} hubmirror functions (inclusive):`,
    ...list(inclusive, top),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, flag, n] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: profile-summary.ts FILE.cpuprofile [--top N]\n");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  process.stdout.write(`${summarise(profile, flag === "--top" ? Number(n) : 25)}\n`);
}
