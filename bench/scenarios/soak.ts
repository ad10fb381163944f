// (11) Soak (issue 12): `soakClients` clients pull in a loop for `soakSeconds` — HTTP clients hashing every body
// against its digest, and a few skopeo copies — from a hubmirror of the scenario's own, in front of an upstream of
// its own (Distribution with Docker-Hub-style token auth). The cache starts empty and is capped at half the
// working set, so that fills (and evictions) go on throughout. The mirror is SIGKILLed `soakKills` times at random
// moments (seeded, one in each equal slot of the first three quarters of the run) and restarted at once on the
// same data directory and port; the last quarter runs the final process under load, for the leak check.
// Afterwards: `hubmirror verify` and every file on disk, every tag through the mirror, and the final process's
// VmRSS and open descriptors once idle against the first process's after start and warm-up.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { seededRandom as random } from "../../test/fakes/seeded-random.js";
import { makeBlobImage, pushImage, type TestImage } from "../../test/fixtures/images.js";
import { startTokenServer } from "../../test/fixtures/token-server.js";
import { freePort, startUpstreamRegistry } from "../../test/fixtures/upstream-registry.js";
import { WARMUP_BLOB, warmUp } from "../env.js";
import { type HubmirrorProcess, startHubmirror } from "../hubmirror.js";
import { procStats, quiesce } from "../measure.js";
import { type Ctx, type ScenarioResult, sizeLabel } from "./common.js";
import {
  diskCheck,
  type Footprint,
  footprint,
  heap,
  settle,
  tempFiles,
  unresolvedTags,
  verifyCli,
} from "./soak-checks.js";
import { type LoadReport, startLoad } from "./soak-load.js";
import { type Kill, soakRows } from "./soak-rows.js";
import type { SoakFailure, SoakImage } from "./soak-worker.js";

const pusher = { username: "pusher", password: "s3cret" };
const ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");
/** Kills fall in this part of the run; the rest is the final process's. */
const KILL_SPAN = [0.1, 0.75] as const;
/** Idle after the load, the final process may exceed the first one's baseline by this much. */
const TOLERANCE: Footprint = { rssMiB: 48, fds: 8 };
const SETTLE_MS = 30_000;
/** The warm-up load before the baseline: a tenth of the soak, within these bounds (s). */
const WARM_LOAD_S = [5, 30] as const;
const REQUEST_TIMEOUT_MS = 60_000;

/** `n` single-layer images, layers from `layer` to twice that (512-byte aligned, distinct), pushed upstream. */
async function soakImages(n: number, layer: number, url: string): Promise<TestImage[]> {
  const out: TestImage[] = [];
  for (let i = 0; i < n; i++) {
    const img = await makeBlobImage(layer + Math.floor((layer * i) / n / 512) * 512 + i * 512);
    await pushImage(url, img.repo, img.tag, img, pusher);
    out.push(img);
  }
  return out;
}

const part = ({ digest, size }: { digest: string; size: number }) => ({ digest, size });
const toSoak = (img: TestImage): SoakImage => ({
  repo: img.repo,
  tag: img.tag,
  manifest: part(img.manifest),
  blobs: img.blobs.map(part),
});

/**
 * Failed requests by when they ran: in flight when the mirror was killed (cut), begun while it was down (refused),
 * and the rest (the mirror was up all along).
 */
function classify(errors: SoakFailure[], down: [number, number][]) {
  const cut = (e: SoakFailure) => down.some(([from]) => e.start < from && e.end >= from);
  const refused = (e: SoakFailure) => !cut(e) && down.some(([from, to]) => e.start >= from && e.start <= to);
  return {
    cut: errors.filter(cut),
    refused: errors.filter(refused),
    whileUp: errors.filter((e) => !cut(e) && !refused(e)),
  };
}

export async function soak(ctx: Ctx): Promise<ScenarioResult> {
  const { env, opts, log } = ctx;
  const dir = join(env.work, "soak");
  const data = join(dir, "data");
  mkdirSync(dir, { recursive: true });
  const tokens = await startTokenServer({ users: { [pusher.username]: pusher.password } });
  const upstream = await startUpstreamRegistry({ auth: "token", tokenServer: tokens });
  let mirror: HubmirrorProcess | undefined;
  try {
    log(
      `soak: pushing ${opts.soakImages} images (layers ${sizeLabel(opts.soakLayer)}–) to a token-auth upstream`,
    );
    const images = await soakImages(opts.soakImages, opts.soakLayer, upstream.url);
    const warmup = await makeBlobImage(WARMUP_BLOB);
    await pushImage(upstream.url, warmup.repo, warmup.tag, warmup, pusher);
    const workingSet = images.reduce(
      (n, img) => n + img.blobs.reduce((m, b) => m + b.size, img.manifest.size),
      0,
    );
    const cap = Math.floor(workingSet / 2);
    const port = await freePort();
    const start = () =>
      startHubmirror({
        ...env.hubmirrorBuild,
        upstream: upstream.url,
        data,
        port,
        args: ["--max-size", String(cap)],
      });
    mirror = await start();
    const loadOpts = {
      url: mirror.url,
      images: images.map(toSoak),
      clients: opts.soakClients,
      skopeo: opts.soakSkopeo,
      accept: ACCEPT,
      timeoutMs: REQUEST_TIMEOUT_MS,
      work: dir,
    };
    // Warm-up: code paths, then the soak's own load for a while (the pools and heap it needs), then idle.
    await warmUp({ name: "hubmirror", url: mirror.url, pid: mirror.pid }, warmup);
    const warmSeconds = Math.min(WARM_LOAD_S[1], Math.max(WARM_LOAD_S[0], opts.soakSeconds / 10));
    log(`soak: warm-up load, ${opts.soakClients} clients for ${warmSeconds} s`);
    const warmLoad = await startLoad({ ...loadOpts, seed: opts.soakSeed + 1 });
    await sleep(warmSeconds * 1000);
    const warmReport = await warmLoad.stop();
    await quiesce([mirror.pid], opts.quietWindowMs);
    const baseline = footprint(mirror.pid);
    const heapBefore = await heap(mirror.url);
    log(
      `soak: ${opts.soakClients} clients (${opts.soakSkopeo} skopeo) for ${opts.soakSeconds} s, ` +
        `${opts.soakKills} SIGKILLs (seed ${opts.soakSeed}); working set ${sizeLabel(workingSet)}, cap ` +
        `${sizeLabel(cap)}; baseline VmRSS ${baseline.rssMiB.toFixed(1)} MiB, ${baseline.fds} fds`,
    );
    await upstream.clearAccessLog();
    /** Upstream blob GETs since the load began. */
    const fills = async () =>
      (await upstream.accessLog()).filter((r) => r.method === "GET" && r.path.includes("/blobs/")).length;

    const next = random(opts.soakSeed);
    const [from, to] = KILL_SPAN;
    const slot = ((to - from) * opts.soakSeconds) / opts.soakKills;
    const killAt = Array.from(
      { length: opts.soakKills },
      (_, k) => from * opts.soakSeconds + (k + next()) * slot,
    );
    const load = await startLoad({ ...loadOpts, seed: opts.soakSeed });
    const t0 = performance.now();
    const sinceStart = () => (performance.now() - t0) / 1000;
    const kills: Kill[] = [];
    const down: [number, number][] = [];
    let cpuKilled = 0;
    let restarts = 0;
    let report: LoadReport;
    try {
      for (const at of killAt) {
        await sleep(Math.max(0, (at - sinceStart()) * 1000));
        const killed = performance.timeOrigin + performance.now();
        cpuKilled += procStats(mirror.pid).cpuS;
        await mirror.kill();
        const cut = await tempFiles(data);
        const restarted = performance.now();
        mirror = await start(); // throws, failing the scenario, if it cannot start on what the kill left
        restarts++;
        const up = performance.timeOrigin + performance.now();
        const kill: Kill = {
          atS: (killed - performance.timeOrigin - t0) / 1000,
          tempFiles: cut,
          downMs: up - killed,
          startMs: performance.now() - restarted,
          fills: await fills(),
        };
        kills.push(kill);
        down.push([killed, up]);
        log(
          `soak: killed at ${kill.atS.toFixed(1)} s (${cut} temp files of fills cut, ${kill.fills} fills so ` +
            `far), serving again after ${kill.downMs.toFixed(0)} ms`,
        );
      }
      await sleep(Math.max(0, (opts.soakSeconds - sinceStart()) * 1000));
    } finally {
      report = await load.stop();
    }
    const loadSeconds = sinceStart();
    const final = mirror;
    log(`soak: load stopped after ${loadSeconds.toFixed(1)} s: ${report.pulls} pulls; checking`);

    await quiesce([final.pid], opts.quietWindowMs);
    const allowed = { rssMiB: baseline.rssMiB + TOLERANCE.rssMiB, fds: baseline.fds + TOLERANCE.fds };
    const settled = await settle(final.pid, allowed, SETTLE_MS);
    const heapAfter = await heap(final.url);
    const tempAfter = await tempFiles(data);
    const fillCount = await fills();
    const verified = await verifyCli(env.hubmirrorBuild.buildDir, final.url);
    const disk = await diskCheck(data);
    const tags = await unresolvedTags(final.url, images.map(toSoak), ACCEPT);
    const errors = classify(report.errors, down);
    const wrong = [...warmReport.wrong, ...report.wrong];
    const finalStats = procStats(final.pid);

    const { rows, ownMirrors } = soakRows({
      opts,
      images: images.length,
      loadSeconds,
      kills,
      restarts,
      pulls: report.pulls,
      skopeoPulls: report.skopeoPulls,
      fills: fillCount,
      bytes: report.bytes,
      errors: { cut: errors.cut.length, refused: errors.refused.length, whileUp: errors.whileUp.length },
      wrong: wrong.length,
      verified: verified.objects,
      bad: verified.corrupt.length + verified.missing.length + (disk.bad ? 1 : 0),
      unresolvedTags: tags.length,
      baseline,
      after: settled.after,
      allowed,
      cpuS: cpuKilled + finalStats.cpuS,
      peakRssMiB: finalStats.peakRssMiB,
    });
    const sample = (fs: SoakFailure[]) => fs.slice(0, 20);
    return {
      rows,
      ownMirrors,
      details: {
        seed: opts.soakSeed,
        loadSeconds,
        workingSet,
        cap,
        kills,
        baseline,
        after: settled.after,
        allowed,
        settleMs: settled.ms,
        heapBefore,
        heapAfter,
        warmUp: { seconds: warmSeconds, pulls: warmReport.pulls, errors: warmReport.errors.length },
        tempFilesAfter: tempAfter,
        responses: report.responses,
        verify: verified,
        diskFiles: disk.files,
        diskBad: disk.bad,
        unresolvedTags: tags,
        wrong,
        errorsCut: { count: errors.cut.length, sample: sample(errors.cut) },
        errorsRefused: { count: errors.refused.length, sample: sample(errors.refused) },
        errorsWhileUp: { count: errors.whileUp.length, sample: sample(errors.whileUp) },
        hubmirrorWarnings: await final.warnings(),
      },
    };
  } finally {
    await mirror?.stop();
    await upstream.stop();
    await tokens.stop();
  }
}
