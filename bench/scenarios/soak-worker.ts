// A worker thread running some of the soak's HTTP clients (see soak-load.ts). Each client pulls in a loop until
// told to stop: a seeded pick of an image, its manifest by tag, then its blobs at once, as dockerd does. Every body
// is hashed as it arrives and compared with its digest and size: a complete 200 that does not match is bytes a
// client would have accepted. A request cut short or refused (the mirror was killed) is an error, not wrong bytes.
import { parentPort, workerData } from "node:worker_threads";
import { seededRandom as random } from "../../test/fakes/seeded-random.js";
import { get } from "../http.js";

export interface SoakPart {
  digest: string;
  size: number;
}

export interface SoakImage {
  repo: string;
  tag: string;
  manifest: SoakPart;
  blobs: SoakPart[];
}

export interface SoakWorkerJob {
  url: string;
  clients: number;
  images: SoakImage[];
  /** Client i of this worker draws from `random(seed + i)`. */
  seed: number;
  /** Accept header of the manifest GETs. */
  accept: string;
  timeoutMs: number;
}

/** One request that went wrong; times in ms on the shared clock (performance.timeOrigin + performance.now()). */
export interface SoakFailure {
  path: string;
  start: number;
  end: number;
  /** HTTP status, 0 when there was no answer (refused, cut, timed out). */
  status: number;
  error: string;
}

export interface SoakWorkerReport {
  /** Pulls whose manifest and every blob arrived whole and matching. */
  pulls: number;
  /** Responses that arrived whole and matched, and their bytes. */
  responses: number;
  bytes: number;
  /** Complete 200 answers whose bytes do not hash to the digest asked for (or have the wrong length). */
  wrong: SoakFailure[];
  errors: SoakFailure[];
}

/** After a failed request a client waits 100–300 ms before its next pull, as real clients back off. */
const BACKOFF_MS = [100, 300];

const port = parentPort;
if (!port) throw new Error("soak-worker.ts runs as a worker thread");
const job = workerData as SoakWorkerJob;
const now = () => performance.timeOrigin + performance.now();
const report: SoakWorkerReport = { pulls: 0, responses: 0, bytes: 0, wrong: [], errors: [] };
let stopping = false;

/** GETs one part; true when it arrived whole and matching. */
async function fetchPart(path: string, part: SoakPart, headers?: Record<string, string>): Promise<boolean> {
  const start = now();
  const failure = (status: number, error: string): SoakFailure => ({
    path,
    start,
    end: now(),
    status,
    error,
  });
  try {
    const r = await get(job.url + path, {
      hash: true,
      timeoutMs: job.timeoutMs,
      ...(headers && { headers }),
    });
    if (r.status !== 200) {
      report.errors.push(failure(r.status, `HTTP ${r.status}`));
      return false;
    }
    if (`sha256:${r.sha256}` !== part.digest || r.bytes !== part.size) {
      report.wrong.push(failure(200, `${r.bytes} bytes hashing to sha256:${r.sha256}`));
      return false;
    }
    report.responses++;
    report.bytes += r.bytes;
    return true;
  } catch (err) {
    report.errors.push(failure(0, (err as Error).message));
    return false;
  }
}

async function client(next: () => number): Promise<void> {
  while (!stopping) {
    const img = job.images[Math.floor(next() * job.images.length)] as SoakImage;
    const base = `/v2/${img.repo}`;
    let ok = await fetchPart(`${base}/manifests/${img.tag}`, img.manifest, { Accept: job.accept });
    if (ok) {
      const blobs = await Promise.all(img.blobs.map((b) => fetchPart(`${base}/blobs/${b.digest}`, b)));
      ok = blobs.every(Boolean);
    }
    if (ok) report.pulls++;
    else {
      const [lo, hi] = BACKOFF_MS as [number, number];
      await new Promise((r) => setTimeout(r, lo + next() * (hi - lo)));
    }
  }
}

const clients = Array.from({ length: job.clients }, (_, i) => client(random(job.seed + i)));
port.once("message", async () => {
  stopping = true; // every client ends its current pull
  await Promise.all(clients);
  port.postMessage(report);
});
port.postMessage("ready");
