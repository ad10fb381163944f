import { RegistryError } from "../errors/oci-errors.js";
import type { RequestContext } from "../http/context.js";
import type { CacheUsage, MetadataStore, UsageStore } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Download } from "../proxy/proxy-blob-store.js";
import { UPSTREAM_STATE } from "../upstream/transport.js";
import { type ClientKind, clientKind } from "./client-kind.js";
import { UsageRecorder } from "./usage-recorder.js";
import { RANGES, type StatsRange, type UsageReport, usageReport } from "./usage-report.js";

export interface StatsOptions {
  meta: UsageStore & Pick<MetadataStore, "cacheUsage" | "getUpstreamStatus">;
  /** The blob downloads under way. */
  downloads: () => Download[];
  upstreams: readonly { registry: string; url: string }[];
  metrics: Metrics;
  maxSize: number | undefined;
  /** Registered users, and users active since a time (users mode; none without it). */
  users?: (since: number) => Promise<{ registered: number; active: number }>;
  /** How long the cache's size is reused: /api/stats is public, and the size is a scan of the whole index. */
  cacheUsageTtlMs?: number;
}

/** What /api/stats answers (see README "Statistics"). */
export interface StatsReport extends UsageReport {
  cache: { bytes: number; objects: number; maxSize: number | null };
  users: { registered: number; active: number };
  upstreams: {
    registry: string;
    url: string;
    state: string;
    rateLimitLimit: number | null;
    rateLimitRemaining: number | null;
    updatedAt: number | null;
  }[];
  inFlight: Download[];
  recent: {
    t: number;
    image: string;
    reference: string;
    kind: "manifest" | "blob";
    method: "GET" | "HEAD";
    result: string | null;
    status: number;
    bytes: number;
    ms: number;
    client: ClientKind;
    user: string | null;
  }[];
}

const STATE_NAMES = new Map(Object.entries(UPSTREAM_STATE).map(([name, n]) => [n, name]));

export function parseStatsRange(raw: string | null): StatsRange {
  if (raw === null) return "24h";
  if (Object.hasOwn(RANGES, raw)) return raw as StatsRange;
  throw new RegistryError(
    "REQUEST_INVALID",
    `range "${raw.slice(0, 20)}" is not one of ${Object.keys(RANGES).join(", ")}`,
  );
}

/**
 * Usage accounting and the figures built from it: every finished manifest and blob request is recorded here
 * (by the `usage` middleware), upstream blob bytes as they arrive; `/metrics` gets the same figures as counters.
 */
export class Stats {
  readonly recorder: UsageRecorder;
  private cacheUsage: { at: number; usage: Promise<CacheUsage> } | undefined;

  constructor(private readonly o: StatsOptions) {
    this.recorder = new UsageRecorder(o.meta);
  }

  /** A finished request: manifests and blobs of a resolved repository count, the rest is not usage. */
  record(ctx: RequestContext): void {
    const route = ctx.route.name;
    if (!ctx.key || (route !== "manifests" && route !== "blobs")) return;
    const client = clientKind(ctx.req.headers["user-agent"]);
    const pull = ctx.pull && ctx.status === 200;
    const speed = this.recorder.record({
      at: Date.now(),
      registry: ctx.key.registry,
      repo: ctx.key.repo,
      reference: ctx.ref,
      kind: route === "manifests" ? "manifest" : "blob",
      head: ctx.head,
      result: ctx.cache,
      status: ctx.status,
      bytes: ctx.res.bodyBytes,
      ms: performance.now() - ctx.started,
      client,
      user: ctx.principal?.name,
      pull,
    });
    const { clientCounts, pullCounts, downloadSpeed } = this.o.metrics;
    clientCounts.set(client, (clientCounts.get(client) ?? 0) + 1);
    if (pull) {
      const byClient = pullCounts.get(ctx.key.registry) ?? new Map<string, number>();
      pullCounts.set(ctx.key.registry, byClient.set(client, (byClient.get(client) ?? 0) + 1));
    }
    if (speed !== undefined) downloadSpeed.observe(speed);
  }

  upstreamBytes(n: number): void {
    this.recorder.upstreamBytes(n);
  }

  flush(): Promise<void> {
    return this.recorder.flush();
  }

  /** The figures of a range, with the live state. */
  async report(range: StatsRange): Promise<StatsReport> {
    const { meta } = this.o;
    const usage = await usageReport(meta, this.recorder, range, Date.now());
    const stored = await this.storedNow();
    const upstreams = await Promise.all(
      this.o.upstreams.map(async ({ registry, url }) => {
        const status = await meta.getUpstreamStatus(registry);
        const state = this.o.metrics.upstreamStates.get(registry)?.();
        return {
          registry,
          url: new URL(url).origin,
          state: (state !== undefined && STATE_NAMES.get(state)) || "unknown",
          rateLimitLimit: status?.rateLimitLimit ?? null,
          rateLimitRemaining: status?.rateLimitRemaining ?? null,
          updatedAt: status?.updatedAt ?? null,
        };
      }),
    );
    return {
      ...usage,
      cache: {
        bytes: stored.blobs.bytes + stored.manifests.bytes,
        objects: stored.blobs.count + stored.manifests.count,
        maxSize: this.o.maxSize ?? null,
      },
      users: (await this.o.users?.(usage.from)) ?? { registered: 0, active: 0 },
      upstreams,
      inFlight: this.o.downloads(),
      recent: this.recorder.recent().map((e) => ({
        t: e.at,
        image: `${e.registry}/${e.repo}`,
        reference: e.reference,
        kind: e.kind,
        method: e.head ? "HEAD" : "GET",
        result: e.result ?? null,
        status: e.status,
        bytes: e.bytes,
        ms: Math.round(e.ms * 10) / 10,
        client: e.client,
        user: e.user ?? null,
      })),
    };
  }

  /** The cache's size, reused for a second (see cacheUsageTtlMs). */
  private storedNow(): Promise<CacheUsage> {
    const now = Date.now();
    if (this.cacheUsage && now - this.cacheUsage.at < (this.o.cacheUsageTtlMs ?? 1000))
      return this.cacheUsage.usage;
    const usage = this.o.meta.cacheUsage();
    const entry = { at: now, usage };
    this.cacheUsage = entry;
    usage.catch(() => {
      if (this.cacheUsage === entry) this.cacheUsage = undefined;
    });
    return usage;
  }
}
