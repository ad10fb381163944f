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
] as const;
export type Scenario = (typeof SCENARIOS)[number];

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
  catalogueLayer: 16 * MiB,
  quietWindowMs: 250,
};

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
  catalogueLayer: 1 * MiB, // the size the tests use: its layers are usually cached already
  quietWindowMs: 50,
};

export const USAGE = `Usage: npm run bench -- [--smoke] [--out FILE] [--profile DIR] [--only LIST] [--rounds N]

  --smoke         tiny sizes, ~1 s measurements (what bench/bench.test.ts runs)
  --out FILE      JSON results (default bench/results/<timestamp>.json)
  --profile DIR   run hubmirror with --cpu-prof, write its profile to DIR
  --only LIST     comma-separated subset of: ${SCENARIOS.join(", ")}
  --rounds N      alternating rounds per repeatable measurement (full: 3, smoke: 1)
`;

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: "boolean", default: false },
      out: { type: "string" },
      profile: { type: "string" },
      only: { type: "string" },
      rounds: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const only = values.only ? values.only.split(",").map((s) => s.trim()) : [...SCENARIOS];
  for (const s of only) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only: unknown scenario ${s}`);
  }
  const sizes = values.smoke ? SMOKE : FULL;
  const rounds = values.rounds === undefined ? sizes.rounds : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer`);
  return {
    smoke: values.smoke ?? false,
    ...sizes,
    rounds,
    out: values.out,
    profileDir: values.profile,
    only: new Set(only as Scenario[]),
  };
}
