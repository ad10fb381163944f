import type { Logger } from "../log/logger.js";
import type { BlobRecord, MetadataStore } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Digest } from "../reference/reference.js";
import type { StorageDriver } from "../storage/driver.js";
import type { LocalBlobStore } from "../store/blob-store.js";
import { type Backfill, backfillRefs } from "./gc-scan.js";
import { cleanupSteps, GC_KINDS, type GcItem, type GcKind, type GcStep } from "./gc-steps.js";
import type { InUse } from "./in-use.js";
import type { Pins } from "./pins.js";
import { type Doomed, removableTopDown, removeInOrder } from "./removal-set.js";
import type { ContentRemover } from "./remover.js";

export interface GcReport {
  dryRun: boolean;
  /** Freed, or for a dry run what would be, in removal order. */
  items: GcItem[];
  /** Planned but kept, because it became in use or referenced meanwhile. */
  skipped: (GcItem & { skipped: string })[];
  freedBytes: number;
  counts: Record<GcKind, number>;
  /** Manifests stored by an earlier version whose references were recorded (would be, in a dry run). */
  backfilled: number;
  warnings: string[];
  durationMs: number;
}

export interface GcOptions {
  meta: MetadataStore;
  store: LocalBlobStore;
  /** The primary storage, walked for orphan files. */
  storage: StorageDriver;
  remover: ContentRemover;
  inUse: InUse;
  pins: Pins;
  /** Local temp directories: the filesystem driver's uploads, the fan-out spool. */
  tempDirs: readonly string[];
  /** Unreferenced content and orphan files younger than this are left alone. */
  grace: number;
  /** Background runs every this many ms; 0: never. */
  interval: number;
  metrics: Metrics;
  log: Logger;
}

export interface GcRunOptions {
  dryRun: boolean;
  trigger: "schedule" | "admin";
  /** Stops a run between two removals (the caller went away). */
  signal?: AbortSignal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
}

/** A plan: what to free, in order; each is checked again right before its removal. */
interface GcPlan {
  cutoff: number;
  content: Doomed[];
  kinds: Map<Digest, GcKind>;
  steps: GcStep[];
  backfilled: number;
  warnings: string[];
}

const lastUsed = (rec: BlobRecord) => `last used ${new Date(rec.lastAccess).toISOString()}`;

/**
 * Garbage collection, safe while serving: it plans from the index and storage, then removes each planned thing
 * only after checking again that it is still garbage (content through the ContentRemover, dependents first).
 * One run at a time; purges queue behind it too (`exclusive`).
 */
export class GarbageCollector {
  private queue: Promise<unknown> = Promise.resolve();
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly o: GcOptions) {}

  start(): void {
    if (this.o.interval <= 0) return;
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.run({ dryRun: false, trigger: "schedule" }).catch((err: Error) =>
        this.o.log.warn({ err: err.message }, "garbage collection failed"),
      );
    }, this.o.interval);
    this.timer.unref();
  }

  /** Stops the timer and a running collection (between two removals), and waits for it. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.queue;
  }

  /** Runs `work` once no GC or purge is running: they never interleave. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      if (this.stopping.signal.aborted) throw new Error("the mirror is shutting down");
      this.busy = true;
      try {
        return await work();
      } finally {
        this.busy = false;
      }
    });
    this.queue = next.catch(() => {});
    return next;
  }

  run(o: GcRunOptions): Promise<GcReport> {
    return this.exclusive(() => this.collect(o));
  }

  private async collect(o: GcRunOptions): Promise<GcReport> {
    const started = Date.now();
    const signals = [this.stopping.signal, ...(o.signal ? [o.signal] : [])];
    const signal = AbortSignal.any(signals);
    const plan = await this.plan(!o.dryRun, o.onPhase);
    const planned = itemsOf(plan);
    const { items, skipped } = o.dryRun ? { items: planned, skipped: [] } : await this.apply(plan, signal, o);
    const freedBytes = items.reduce((n, i) => n + i.size, 0);
    const counts = Object.fromEntries(GC_KINDS.map((k) => [k, 0])) as Record<GcKind, number>;
    for (const i of items) counts[i.kind]++;
    const mode = o.dryRun ? "dry-run" : "real";
    this.o.metrics.gcRuns.inc({ mode, trigger: o.trigger });
    this.o.meta.addCounters({ [`gc_runs_${mode.replace("-", "_")}`]: 1 });
    const report: GcReport = {
      dryRun: o.dryRun,
      items,
      skipped,
      freedBytes,
      counts,
      backfilled: plan.backfilled,
      warnings: plan.warnings,
      durationMs: Date.now() - started,
    };
    this.o.log.info(
      {
        dryRun: o.dryRun,
        trigger: o.trigger,
        counts,
        freedBytes,
        skipped: skipped.length,
        ms: report.durationMs,
      },
      o.dryRun ? "garbage collection planned (dry run)" : "garbage collection done",
    );
    return report;
  }

  /** What a run would free now. With `write`, records the references of manifests that have none first. */
  async plan(write = false, onPhase: (phase: string) => void = () => {}): Promise<GcPlan> {
    const { meta } = this.o;
    await meta.flush();
    onPhase("references");
    const backfill = await backfillRefs(meta, this.o.store, write);
    const cutoff = Date.now() - this.o.grace;
    const warnings: string[] = [];
    onPhase("content");
    let content: Doomed[] = [];
    const kinds = new Map<Digest, GcKind>();
    if (backfill.unreadable.length > 0) {
      // Their references are unknown: content they might use can't be called garbage.
      warnings.push(
        `stored manifests could not be read (${backfill.unreadable.join(", ")}): no content is collected ` +
          "until they are fetched again or removed (hubmirror verify --repair)",
      );
    } else {
      content = await this.garbageContent(backfill, cutoff, kinds);
    }
    onPhase("files");
    const steps = await cleanupSteps(this.o, cutoff);
    return {
      cutoff,
      content,
      kinds,
      steps,
      backfilled: backfill.children.size,
      warnings,
    };
  }

  /**
   * Unlinked and unreferenced content unused since `cutoff`, minus what stays (pinned, in use, tagged, used by a
   * manifest that stays), in removal order; `kinds` gets each one's kind.
   */
  private async garbageContent(
    backfill: Backfill,
    cutoff: number,
    kinds: Map<Digest, GcKind>,
  ): Promise<Doomed[]> {
    const { meta, inUse } = this.o;
    const protect = await this.o.pins.closure();
    // Pinned manifests' backfilled references are pinned too.
    for (const queue = [...protect]; queue.length > 0; ) {
      for (const c of backfill.children.get(queue.pop() as Digest) ?? []) {
        if (protect.has(c)) continue;
        protect.add(c);
        queue.push(c);
      }
    }
    const candidates = new Map<Digest, Doomed>();
    for (const rec of await meta.unlinkedContent()) {
      if (rec.lastAccess >= cutoff) continue;
      candidates.set(rec.digest, { rec, why: `no repository links it any more; ${lastUsed(rec)}` });
      kinds.set(rec.digest, "unlinked");
    }
    for (const rec of await meta.unreferencedBlobs(cutoff)) {
      if (backfill.parents.has(rec.digest) || candidates.has(rec.digest)) continue;
      candidates.set(rec.digest, { rec, why: `no stored manifest references it; ${lastUsed(rec)}` });
      kinds.set(rec.digest, "unreferenced");
    }
    for (const [d, c] of candidates) {
      const tagged = c.rec.kind === "manifest" && (await meta.tagsOf(d)).length > 0;
      if (protect.has(d) || inUse.has(d) || tagged) candidates.delete(d);
    }
    const { ordered } = await removableTopDown(candidates, async (d) => [
      ...new Set([...(await meta.manifestParents(d)), ...(backfill.parents.get(d) ?? [])]),
    ]);
    return ordered;
  }

  private async apply(
    plan: GcPlan,
    signal: AbortSignal,
    o: GcRunOptions,
  ): Promise<{ items: GcItem[]; skipped: GcReport["skipped"] }> {
    const { meta } = this.o;
    const items: GcItem[] = [];
    const skipped: GcReport["skipped"] = [];
    const contentItem = (d: Doomed) => contentItemOf(d, plan.kinds);
    o.onPhase?.("removing");
    const content = await removeInOrder(
      this.o,
      plan.content,
      "gc",
      async (rec, d) => {
        if (rec.lastAccess >= plan.cutoff) return "used since the plan";
        if (plan.kinds.get(d.rec.digest) !== "unlinked") return undefined;
        const [repo] = await meta.linkedRepositories(rec.digest);
        return repo && `linked to ${repo.registry}/${repo.repo} since the plan`;
      },
      signal,
    );
    items.push(...content.removed.map(contentItem));
    const byDigest = new Map(plan.content.map((d) => [d.rec.digest, d]));
    for (const k of content.skipped)
      skipped.push({ ...contentItem(byDigest.get(k.digest) as Doomed), skipped: k.why });

    let fileBytes = 0;
    for (const step of plan.steps) {
      if (signal.aborted) break;
      const why = await step.check();
      if (why) {
        skipped.push({ ...step.item, skipped: why });
        continue;
      }
      await step.remove();
      items.push(step.item);
      fileBytes += step.item.size;
    }
    if (fileBytes > 0) {
      this.o.metrics.evictedBytes.inc({ reason: "gc" }, fileBytes);
      meta.addCounters({ removed_bytes_gc_files: fileBytes });
    }
    return { items, skipped };
  }
}

function contentItemOf(d: Doomed, kinds: ReadonlyMap<Digest, GcKind>): GcItem {
  return {
    kind: kinds.get(d.rec.digest) ?? "unreferenced",
    digest: d.rec.digest,
    size: d.rec.size,
    why: d.why,
  };
}

function itemsOf(plan: GcPlan): GcItem[] {
  return [...plan.content.map((d) => contentItemOf(d, plan.kinds)), ...plan.steps.map((s) => s.item)];
}
