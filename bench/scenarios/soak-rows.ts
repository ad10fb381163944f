// The soak's rows: counts under the "soak" column, the final process's memory and descriptors against the
// baseline (the first process's, after start and warm-up), with what is allowed as the reference.
import type { Options } from "../options.js";
import type { Columns, Row } from "../report.js";
import { columnRow, type ScenarioResult } from "./common.js";
import type { Footprint } from "./soak-checks.js";

const COLUMNS: Columns = { a: "soak", b: "baseline", ratio: "soak/baseline" };

/**
 * One kill: when (s into the load), fills it cut (temp files it left), kill → serving again, start → serving,
 * upstream blob GETs since the load began (fills go on throughout).
 */
export interface Kill {
  atS: number;
  tempFiles: number;
  downMs: number;
  startMs: number;
  fills: number;
}

export interface SoakOutcome {
  opts: Options;
  images: number;
  loadSeconds: number;
  kills: Kill[];
  restarts: number;
  pulls: number;
  skopeoPulls: number;
  /** Upstream blob GETs. */
  fills: number;
  /** Body bytes the clients received, hashed and found right. */
  bytes: number;
  errors: { cut: number; refused: number; whileUp: number };
  /** Responses with wrong bytes that a client accepted. */
  wrong: number;
  /** Objects `hubmirror verify` checked, and those bad (corrupt, missing, a file on disk not matching). */
  verified: number;
  bad: number;
  unresolvedTags: number;
  baseline: Footprint;
  after: Footprint;
  allowed: Footprint;
  /** Every mirror process of the soak, killed ones included. */
  cpuS: number;
  /** VmHWM of the final process. */
  peakRssMiB: number;
}

export function soakRows(o: SoakOutcome): Pick<ScenarioResult, "rows" | "ownMirrors"> {
  const pair = columnRow(COLUMNS);
  const one = (id: string, label: string, unit: string, value: number) =>
    pair(id, label, unit, unit === "count" ? "none" : "lower", value, Number.NaN);
  const count = (id: string, label: string, value: number) =>
    one(`soak.${id}`, `soak: ${label}`, "count", value);
  const { opts, kills } = o;
  const rows: Row[] = [
    count(
      "kills",
      `SIGKILLs at random moments (seed ${opts.soakSeed}), ${o.loadSeconds.toFixed(0)} s of load`,
      kills.length,
    ),
    count("restarts", "restarts on the same data directory, serving again", o.restarts),
    count(
      "fillsCut",
      "fills cut by a kill (temp files it left)",
      kills.reduce((n, k) => n + k.tempFiles, 0),
    ),
    one("soak.downMax", "soak: kill to serving again, max", "ms", Math.max(0, ...kills.map((k) => k.downMs))),
    count(
      "pulls",
      `pulls completed by ${opts.soakClients} clients (manifest + blobs, every body hashed)`,
      o.pulls,
    ),
    count("skopeoPulls", `of which skopeo copies (${opts.soakSkopeo} clients)`, o.skopeoPulls),
    pair(
      "soak.bytes",
      "soak: bytes the clients received, every one hashed",
      "GiB",
      "none",
      o.bytes / 2 ** 30,
      Number.NaN,
    ),
    count("fills", "upstream blob GETs (fills; cache capped at half the working set)", o.fills),
    count("cutErrors", "client requests cut by a kill", o.errors.cut),
    count("refusedErrors", "client requests refused while restarting", o.errors.refused),
    count("upErrors", "client errors with the mirror up", o.errors.whileUp),
    count("wrong", "responses with wrong bytes accepted (warm-up included)", o.wrong),
    count("verified", "objects verified after (hubmirror verify)", o.verified),
    count("verifyBad", "objects corrupt or missing, files not hashing to their name", o.bad),
    count("tagsUnresolved", `tags not resolving to their manifest after, of ${o.images}`, o.unresolvedTags),
    {
      ...pair(
        "soak.rss",
        "soak: VmRSS idle, after load vs after start and warm-up",
        "MiB",
        "lower",
        o.after.rssMiB,
        o.baseline.rssMiB,
      ),
      reference: { name: "allowed", value: o.allowed.rssMiB },
    },
    {
      ...pair(
        "soak.fds",
        "soak: open fds idle, after load vs after start and warm-up",
        "count",
        "lower",
        o.after.fds,
        o.baseline.fds,
      ),
      reference: { name: "allowed", value: o.allowed.fds },
    },
  ];
  return {
    rows,
    ownMirrors: {
      cpu: one("cpu.soak", "  CPU during soak (every mirror process)", "s", o.cpuS),
      rss: one("rss.soak", "  VmHWM of the soak's final process", "MiB", o.peakRssMiB),
    },
  };
}
