// What a run measures and how big: the full run (`npm run bench`) or the smoke run (`--smoke`, a few seconds, part
// of the tests so the harness can't rot).
import { parseArgs } from "node:util";

const MiB = 1024 * 1024;

export const SCENARIOS = [
  "blob-cold",
  "blob-warm",
  "herd",
  "warm-clients",
  "manifests",
  "routing",
  "skopeo",
  "verify",
  "s3",
  "eviction",
  "soak",
] as const;
export type Scenario = (typeof SCENARIOS)[number];
/** Run when `--only` is not given: all but the soak, which takes minutes of its own (`--only soak`). */
const DEFAULT_SCENARIOS = SCENARIOS.filter((s) => s !== "soak");

export interface Options {
  smoke: boolean;
  /** The big blob (cold and warm single-client rows, the nginx ceiling). */
  bigBlob: number;
  /** The blob many clients want at once. */
  herdBlob: number;
  /** Clients on the one uncached blob. */
  herdClients: number;
  /** Client counts for the warm aggregate rows. */
  warmClients: number[];
  /** Alternating rounds of every repeatable measurement (the median is reported). */
  rounds: number;
  /** wrk: connections and seconds per run. */
  wrkConnections: number;
  wrkSeconds: number;
  /** s3: the blob size (per-round and per-client sizes step by 512 bytes from it), clients filling at once. */
  s3Blob: number;
  s3FillClients: number;
  /** eviction: images (one layer each, about this size: twice the cap), pulls per pass, clients at once. */
  evictionImages: number;
  evictionBlob: number;
  evictionPulls: number;
  evictionClients: number;
  /**
   * soak: seconds of load, clients pulling in a loop (`soakSkopeo` of them with skopeo), SIGKILLs of the mirror
   * (at random moments, seeded), images (one layer each, `soakLayer` to twice that) and the seed.
   */
  soakSeconds: number;
  soakClients: number;
  soakSkopeo: number;
  soakKills: number;
  soakImages: number;
  soakLayer: number;
  soakSeed: number;
  /** Layer size of the catalogue images that skopeo copies. */
  catalogueLayer: number;
  /** Both mirrors count as idle after two windows this long with no CPU use (see quiesce in measure.ts). */
  quietWindowMs: number;
  /** JSON output path (default bench/results/<timestamp>.json). */
  out: string | undefined;
  /** Run hubmirror under `--cpu-prof`, profiles into this directory. */
  profileDir: string | undefined;
  only: Set<Scenario>;
}

const FULL = {
  bigBlob: 500 * MiB,
  herdBlob: 100 * MiB,
  herdClients: 32,
  warmClients: [16, 32],
  rounds: 3,
  wrkConnections: 32,
  wrkSeconds: 10,
  s3Blob: 500 * MiB + 64 * 1024, // no other scenario's size: cold in both buckets
  s3FillClients: 4,
  evictionImages: 32,
  evictionBlob: 1 * MiB,
  evictionPulls: 400,
  evictionClients: 3,
  soakSeconds: 300,
  soakClients: 50,
  soakSkopeo: 2,
  soakImages: 20,
  soakLayer: 4 * MiB,
  catalogueLayer: 16 * MiB,
  quietWindowMs: 250,
};

/** Default `--soak-kills`: one per this many seconds of soak. */
const SOAK_KILL_EVERY_S = { full: 30, smoke: 7 };

const SMOKE: typeof FULL = {
  bigBlob: 4 * MiB,
  herdBlob: 1 * MiB,
  herdClients: 32,
  warmClients: [16, 32],
  rounds: 1,
  wrkConnections: 32,
  wrkSeconds: 1,
  s3Blob: 4 * MiB + 64 * 1024,
  s3FillClients: 4,
  evictionImages: 16,
  evictionBlob: 128 * 1024,
  evictionPulls: 100,
  evictionClients: 3,
  soakSeconds: 20,
  soakClients: 10,
  soakSkopeo: 1,
  soakImages: 8,
  soakLayer: 512 * 1024,
  catalogueLayer: 1 * MiB, // the size the tests use: its layers are usually cached already
  quietWindowMs: 50,
};

export const USAGE = `Usage: npm run bench -- [--smoke] [--out FILE] [--profile DIR] [--only LIST] [--rounds N]
                       [--soak-duration D] [--soak-clients N] [--soak-kills N] [--soak-seed N]

  --smoke            tiny sizes, ~1 s measurements (what bench/bench.test.ts runs)
  --out FILE         JSON results (default bench/results/<timestamp>.json)
  --profile DIR      run hubmirror with --cpu-prof, write its profile to DIR
  --only LIST        comma-separated subset of: ${SCENARIOS.join(", ")}
                     (default: all but soak)
  --rounds N         alternating rounds per repeatable measurement (full: 3, smoke: 1)
  --soak-duration D  soak: load for D (e.g. 300, 90s, 5m; full: 5m, smoke: 20s)
  --soak-clients N   soak: clients pulling at once (full: 50, smoke: 10)
  --soak-kills N     soak: SIGKILLs of the mirror (default: one per ${SOAK_KILL_EVERY_S.full} s, smoke: ${SOAK_KILL_EVERY_S.smoke} s)
  --soak-seed N      soak: seed of the kill moments and the clients' picks (default 1)
`;

/** `300`, `90s`, `5m`: seconds. */
function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`--soak-duration: expected e.g. 300, 90s or 5m, got ${text}`);
  return Number(m[1]) * (m[2] === "m" ? 60 : 1);
}

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got ${text}`);
  return n;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: "boolean", default: false },
      out: { type: "string" },
      profile: { type: "string" },
      only: { type: "string" },
      rounds: { type: "string" },
      "soak-duration": { type: "string" },
      "soak-clients": { type: "string" },
      "soak-kills": { type: "string" },
      "soak-seed": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const only = values.only ? values.only.split(",").map((s) => s.trim()) : DEFAULT_SCENARIOS;
  for (const s of only) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only: unknown scenario ${s}`);
  }
  const sizes = values.smoke ? SMOKE : FULL;
  const rounds = positiveInt("--rounds", values.rounds, sizes.rounds);
  const soakSeconds = values["soak-duration"] ? parseDuration(values["soak-duration"]) : sizes.soakSeconds;
  const killEvery = values.smoke ? SOAK_KILL_EVERY_S.smoke : SOAK_KILL_EVERY_S.full;
  const soakClients = positiveInt("--soak-clients", values["soak-clients"], sizes.soakClients);
  return {
    smoke: values.smoke ?? false,
    ...sizes,
    rounds,
    soakSeconds,
    soakClients,
    // Some of the clients are skopeo processes, at most a quarter: on 2 cores each costs a Go process.
    soakSkopeo: Math.min(sizes.soakSkopeo, Math.floor(soakClients / 4)),
    soakKills: positiveInt(
      "--soak-kills",
      values["soak-kills"],
      Math.max(1, Math.round(soakSeconds / killEvery)),
    ),
    soakSeed: positiveInt("--soak-seed", values["soak-seed"], 1),
    out: values.out,
    profileDir: values.profile,
    only: new Set(only as Scenario[]),
  };
}
