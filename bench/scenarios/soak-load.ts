// The soak's load: HTTP clients on worker threads (soak-worker.ts), plus a few skopeo processes copying images into
// directories in a loop, all against one mirror URL until stopped. skopeo checks digests itself; what it wrote is
// hashed again here, so that a copy it called good but whose bytes are not the image's counts as wrong bytes.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { seededRandom as random } from "../../test/fakes/seeded-random.js";
import { streamDigest } from "../../test/helpers.js";
import { tsWorker } from "../clients.js";
import type { SoakFailure, SoakImage, SoakWorkerJob, SoakWorkerReport } from "./soak-worker.js";

const run = promisify(execFile);
const SKOPEO_TIMEOUT_MS = 120_000;
const SKOPEO_BACKOFF_MS = 200;

export interface LoadReport extends SoakWorkerReport {
  /** Of `pulls`, those made by skopeo. */
  skopeoPulls: number;
}

export interface LoadOptions {
  url: string;
  images: SoakImage[];
  /** All clients, `skopeo` of them skopeo loops. */
  clients: number;
  skopeo: number;
  seed: number;
  accept: string;
  timeoutMs: number;
  /** Where skopeo's copies go (each removed after its check). */
  work: string;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * What is wrong with what `skopeo copy … dir:DIR` wrote (the manifest as received in manifest.json, each blob as
 * received in a file named by its hex): the manifest is not the image's, or a blob is missing or does not hash to
 * its name.
 */
async function copyProblem(dir: string, img: SoakImage): Promise<string | undefined> {
  const manifest = await streamDigest(createReadStream(join(dir, "manifest.json")));
  if (manifest.digest !== img.manifest.digest) return `manifest.json hashes to ${manifest.digest}`;
  const found = new Map<string, number>();
  for (const name of await readdir(dir)) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue; // manifest.json, version
    const got = await streamDigest(createReadStream(join(dir, name)));
    if (got.digest !== `sha256:${name}`) return `${name} hashes to ${got.digest}`;
    found.set(got.digest, got.size);
  }
  for (const b of img.blobs) {
    if (found.get(b.digest) !== b.size) return `${b.digest}: ${found.get(b.digest)} bytes`;
  }
  return undefined;
}

async function skopeoLoop(opts: LoadOptions, next: () => number, stopped: () => boolean, out: LoadReport) {
  const host = new URL(opts.url).host;
  while (!stopped()) {
    const img = opts.images[Math.floor(next() * opts.images.length)] as SoakImage;
    const src = `docker://${host}/${img.repo}:${img.tag}`;
    const dir = await mkdtemp(join(opts.work, "skopeo-"));
    const start = now();
    const failure = (error: string): SoakFailure => ({ path: src, start, end: now(), status: 0, error });
    try {
      await run(
        "skopeo",
        ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", src, `dir:${dir}`],
        { timeout: SKOPEO_TIMEOUT_MS },
      );
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim().split("\n").at(-1);
      out.errors.push(failure(stderr || (err as Error).message));
      await rm(dir, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, SKOPEO_BACKOFF_MS));
      continue;
    }
    const problem = await copyProblem(dir, img).catch((err: Error) => err.message);
    await rm(dir, { recursive: true, force: true });
    if (problem) {
      out.wrong.push(failure(`skopeo succeeded, but ${problem}`));
      continue;
    }
    out.pulls++;
    out.skopeoPulls++;
    out.responses += 1 + img.blobs.length;
    out.bytes += [img.manifest, ...img.blobs].reduce((n, p) => n + p.size, 0);
  }
}

export interface Load {
  /** Every client ends its current pull; resolves with what they all saw. */
  stop(): Promise<LoadReport>;
}

/** Starts the clients; they pull until `stop`. */
export async function startLoad(opts: LoadOptions): Promise<Load> {
  const http = opts.clients - opts.skopeo;
  const threads = Math.max(1, Math.min(availableParallelism(), http));
  const workers = Array.from({ length: threads }, (_, i) => {
    const job: SoakWorkerJob = {
      url: opts.url,
      clients: Math.floor(http / threads) + (i < http % threads ? 1 : 0),
      images: opts.images,
      seed: opts.seed * 1_000_003 + i * 1000,
      accept: opts.accept,
      timeoutMs: opts.timeoutMs,
    };
    return tsWorker("./scenarios/soak-worker.ts", job);
  });
  await Promise.all(workers.map((w) => once(w, "message"))); // "ready": its clients are pulling
  const report: LoadReport = { pulls: 0, skopeoPulls: 0, responses: 0, bytes: 0, wrong: [], errors: [] };
  let stopped = false;
  const skopeo = Array.from({ length: opts.skopeo }, (_, i) =>
    skopeoLoop(opts, random(opts.seed * 7919 + i), () => stopped, report),
  );
  return {
    async stop() {
      stopped = true;
      try {
        const reports = await Promise.all(
          workers.map(async (w) => {
            const done = once(w, "message");
            w.postMessage("stop");
            return (await done)[0] as SoakWorkerReport;
          }),
        );
        await Promise.all(skopeo);
        for (const r of reports) {
          report.pulls += r.pulls;
          report.responses += r.responses;
          report.bytes += r.bytes;
          report.wrong.push(...r.wrong);
          report.errors.push(...r.errors);
        }
        return report;
      } finally {
        await Promise.all(workers.map((w) => w.terminate()));
      }
    },
  };
}
