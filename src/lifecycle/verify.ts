import type { Logger } from "../log/logger.js";
import type { BlobRecord, ContentKind, MetadataStore } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Digest } from "../reference/reference.js";
import type { LocalBlobStore } from "../store/blob-store.js";
import type { RepairOutcome } from "./repair.js";

/** Index entries read at a time. */
const PAGE = 500;
const PROGRESS_MS = 250;

/** Throttled progress: objects and bytes through the index so far, and the current hashing speed. */
export type VerifyProgress = {
  type: "progress";
  objects: number;
  totalObjects: number;
  bytes: number;
  totalBytes: number;
  bytesPerSecond: number;
};

/** What stored bytes hash to, and their length. */
type Hashed = { digest: Digest; size: number };

/** A corrupt or missing object, with what repair did about it when asked to. */
export type BadObject = {
  type: "object";
  digest: Digest;
  kind: ContentKind;
  /** Its size in the index. */
  size: number;
  result: "corrupt" | "missing";
  /** What the stored bytes hash to, and their length (corrupt only). */
  found?: Hashed;
} & (RepairOutcome | { repair?: undefined });

export type VerifyEvent = VerifyProgress | BadObject;

export type VerifyReport = {
  repair: boolean;
  /** Objects verified, and the bytes read to do it. */
  objects: number;
  bytes: number;
  seconds: number;
  ok: number;
  corrupt: Digest[];
  missing: Digest[];
  /** With repair: fetched again, and good. */
  repaired: Digest[];
  /** With repair: still bad or gone (in use, upstream failed); without: every bad object. */
  unrepaired: Digest[];
};

export interface VerifyOptions {
  /** Remove corrupt and missing objects and fetch them again. */
  repair?: boolean;
  /** Stops the walk (the caller went away). */
  signal?: AbortSignal;
  onEvent?: (e: VerifyEvent) => void;
}

export interface VerifierOptions {
  store: Pick<LocalBlobStore, "hash" | "stat">;
  meta: Pick<MetadataStore, "cacheUsage" | "listContent" | "addCounters">;
  repairer: { repair(rec: BlobRecord): Promise<RepairOutcome> };
  metrics: Metrics;
  log: Logger;
}

/** Counts what has been walked and sends it at most every PROGRESS_MS, with the speed since the last one. */
class Progress {
  objects = 0;
  bytes = 0;
  private readonly started = performance.now();
  private lastAt = this.started;
  private lastBytes = 0;

  constructor(
    private readonly totalObjects: number,
    private readonly totalBytes: number,
    private readonly send: (e: VerifyProgress) => void,
  ) {}

  add(bytes: number): void {
    this.bytes += bytes;
    this.maybeSend();
  }

  /** `force`: sent now whatever the time (the first and the last), with the average speed of the whole run. */
  maybeSend(force = false): void {
    const now = performance.now();
    if (!force && now - this.lastAt < PROGRESS_MS) return;
    const [since, sinceBytes] = force ? [this.started, 0] : [this.lastAt, this.lastBytes];
    const bytesPerSecond = now > since ? Math.round(((this.bytes - sinceBytes) * 1000) / (now - since)) : 0;
    this.lastAt = now;
    this.lastBytes = this.bytes;
    // Content stored during the walk is verified too: totals grow rather than be overtaken.
    this.send({
      type: "progress",
      objects: this.objects,
      totalObjects: Math.max(this.totalObjects, this.objects),
      bytes: this.bytes,
      totalBytes: Math.max(this.totalBytes, this.bytes),
      bytesPerSecond,
    });
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
}

/**
 * Re-hashes every stored object (blobs and manifests, through the index by digest) from storage and compares it
 * with its digest and indexed size; with `repair`, replaces the bad ones (Repairer). One object at a time, so
 * serving is not starved of disk or CPU; nothing is marked as used, so verify does not reorder eviction.
 */
export class Verifier {
  constructor(private readonly o: VerifierOptions) {}

  async run({ repair = false, signal, onEvent = () => {} }: VerifyOptions = {}): Promise<VerifyReport> {
    const usage = await this.o.meta.cacheUsage();
    const progress = new Progress(
      usage.blobs.count + usage.manifests.count,
      usage.blobs.bytes + usage.manifests.bytes,
      onEvent,
    );
    // The totals, before the first object.
    progress.maybeSend(true);
    const report: VerifyReport = {
      repair,
      objects: 0,
      bytes: 0,
      seconds: 0,
      ok: 0,
      corrupt: [],
      missing: [],
      repaired: [],
      unrepaired: [],
    };
    for (let after: Digest | undefined; ; ) {
      const page = await this.o.meta.listContent(PAGE, after);
      if (page.length === 0) break;
      for (const rec of page) {
        signal?.throwIfAborted();
        const { result, found, read } = await this.check(rec, progress, signal);
        report.bytes += read;
        if (result === "gone") continue;
        report.objects++;
        this.o.metrics.verifiedObjects.inc({ result });
        if (result === "ok") report.ok++;
        else onEvent(await this.bad(rec, result, found, repair, report));
      }
      after = page.at(-1)?.digest;
    }
    progress.maybeSend(true);
    report.seconds = Number(progress.seconds.toFixed(3));
    this.record(report);
    return report;
  }

  /** Hashes one object. "gone": removed from the index (evicted, purged) while the walk went on, not lost. */
  private async check(
    rec: BlobRecord,
    progress: Progress,
    signal: AbortSignal | undefined,
  ): Promise<{ result: "ok" | "corrupt" | "missing" | "gone"; found?: Hashed | undefined; read: number }> {
    let read = 0;
    const onBytes = (n: number) => {
      read += n;
      progress.add(n);
    };
    const found = await this.o.store.hash(rec.digest, onBytes, signal);
    progress.objects++;
    // Bytes of a missing or short object count as walked, so that the total is reached at the end.
    progress.add(Math.max(0, rec.size - read));
    if (!found) return { result: (await this.o.store.stat(rec.digest)) ? "missing" : "gone", read };
    const ok = found.digest === rec.digest && found.size === rec.size;
    return { result: ok ? "ok" : "corrupt", found, read };
  }

  /** Records a bad object, repairs it when asked to; the event that tells about it. */
  private async bad(
    rec: BlobRecord,
    result: "corrupt" | "missing",
    found: Hashed | undefined,
    repair: boolean,
    report: VerifyReport,
  ): Promise<BadObject> {
    report[result].push(rec.digest);
    const outcome = repair ? await this.o.repairer.repair(rec) : undefined;
    if (outcome?.repair === "repaired") {
      report.repaired.push(rec.digest);
      this.o.metrics.verifiedObjects.inc({ result: "repaired" });
    } else {
      report.unrepaired.push(rec.digest);
    }
    const event: BadObject = {
      type: "object",
      digest: rec.digest,
      kind: rec.kind,
      size: rec.size,
      result,
      ...(found && { found }),
      ...outcome,
    };
    this.o.log.warn(event, `stored ${rec.kind} is ${result}`);
    return event;
  }

  private record(r: VerifyReport): void {
    this.o.meta.addCounters({
      verify_runs: 1,
      verified_objects: r.objects,
      verified_bytes: r.bytes,
      verify_bad: r.corrupt.length + r.missing.length,
      verify_repaired: r.repaired.length,
    });
    const { repair, objects, bytes, seconds, ok } = r;
    const counts = { corrupt: r.corrupt.length, missing: r.missing.length, repaired: r.repaired.length };
    this.o.log.info({ repair, objects, bytes, seconds, ok, ...counts }, "verify done");
  }
}
