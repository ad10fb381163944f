import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

function counter<L extends string>(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: readonly L[] = [],
) {
  return new Counter<L>({ name, help, labelNames, registers });
}

function gauge<L extends string>(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: readonly L[] = [],
) {
  return new Gauge<L>({ name, help, labelNames, registers });
}

/**
 * Counters are incremented where things happen (proxy and upstream layers); `/metrics` and the console only read
 * them. One registry per app instance so tests can run several mirrors in one process.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];

  readonly httpRequests = counter(
    this.r,
    "hubmirror_http_requests_total",
    "Requests answered, by route and status",
    ["method", "route", "status"] as const,
  );
  readonly registryRequests = counter(
    this.r,
    "hubmirror_registry_requests_total",
    "Repository requests per upstream registry (only configured ones get here), by route and cache result",
    ["registry", "route", "cache"] as const,
  );
  readonly cacheRequests = counter(
    this.r,
    "hubmirror_cache_requests_total",
    "Blob and manifest lookups by result: hit, miss (fetched upstream), joined (an in-flight fetch), redirect, stale",
    ["kind", "result"] as const,
  );
  readonly servedBytes = counter(
    this.r,
    "hubmirror_served_bytes_total",
    "Body bytes sent to clients, by kind and upstream registry",
    ["kind", "registry"] as const,
  );
  readonly limitExceeded = counter(
    this.r,
    "hubmirror_limit_exceeded_total",
    "Clients cut or refused by a limit, by its config key (headerTimeout, maxHeaderSize, maxConnections, …)",
    ["limit"] as const,
  );
  readonly upstreamRequests = counter(
    this.r,
    "hubmirror_upstream_requests_total",
    "Requests sent upstream, by kind and status (0: no answer)",
    ["registry", "kind", "method", "status"] as const,
  );
  readonly upstreamRefused = counter(
    this.r,
    "hubmirror_upstream_refused_total",
    "Upstream answers refused and not cached, by reason: too_large, too_slow, cut, malformed, mismatch, redirects",
    ["registry", "reason"] as const,
  );
  readonly upstreamBytes = counter(
    this.r,
    "hubmirror_upstream_bytes_total",
    "Blob bytes received from upstream",
    ["registry"] as const,
  );
  readonly blobFills = counter(
    this.r,
    "hubmirror_blob_fills_total",
    "Upstream blob downloads by outcome: committed, streamed (larger than the cache: served, not kept), degraded " +
      "(served, not kept: a local write failed or the disk had too little room), abandoned (not kept, and no " +
      "client left to serve), mismatch (digest or length wrong), failed",
    ["registry", "outcome"] as const,
  );
  readonly localWriteErrors = counter(
    this.r,
    "hubmirror_local_write_errors_total",
    "Failed writes to the data directory (what: blob, manifest, metadata; kind: no_space, io, other): caching " +
      "stopped for that object, serving went on",
    ["what", "kind"] as const,
  );
  readonly blobResumes = counter(
    this.r,
    "hubmirror_blob_resumes_total",
    "Interrupted blob downloads resumed with a Range request",
    ["registry"] as const,
  );
  readonly fillsInFlight = gauge(
    this.r,
    "hubmirror_blob_fills_in_flight",
    "Upstream blob downloads in progress",
  );
  readonly rateLimitRemaining = gauge(
    this.r,
    "hubmirror_upstream_ratelimit_remaining",
    "Last ratelimit-remaining reported by the upstream",
    ["registry"] as const,
  );
  readonly credentialRemaining = gauge(
    this.r,
    "hubmirror_upstream_credential_ratelimit_remaining",
    "Last ratelimit-remaining reported for each credential of an upstream (by username, or anonymous)",
    ["registry", "credential"] as const,
  );
  readonly credentialLimited = counter(
    this.r,
    "hubmirror_upstream_credential_429_total",
    "429 answers per upstream credential (by username, or anonymous)",
    ["registry", "credential"] as const,
  );
  /** Upstream state, read at scrape time from the providers in `upstreamStates`. */
  readonly upstreamState = new Gauge({
    name: "hubmirror_upstream_state",
    help: "Upstream state: 0 up, 1 down (circuit open), 2 limited (every credential cooling after a 429)",
    labelNames: ["registry"] as const,
    registers: this.r,
    collect: () => {
      for (const [registry, state] of this.upstreamStates) this.upstreamState.set({ registry }, state());
    },
  });
  /** Each transport registers how to read its upstream's state (see UPSTREAM_STATE). */
  readonly upstreamStates = new Map<string, () => number>();
  readonly offloadCopies = counter(
    this.r,
    "hubmirror_offload_copies_total",
    "Blob copies to the offload target, by outcome: copied, failed (retried later)",
    ["outcome"] as const,
  );
  readonly offloadBytes = counter(
    this.r,
    "hubmirror_offload_bytes_total",
    "Blob bytes copied to the offload target",
  );
  readonly evictions = counter(
    this.r,
    "hubmirror_cache_removals_total",
    "Content removed from the cache, by reason (cap, disk, retention, gc, purge, repair) and kind",
    ["reason", "kind"] as const,
  );
  readonly evictedBytes = counter(
    this.r,
    "hubmirror_cache_removed_bytes_total",
    "Bytes freed by removing content, by reason",
    ["reason"] as const,
  );
  readonly gcRuns = counter(
    this.r,
    "hubmirror_gc_runs_total",
    "Garbage collections, by mode (dry-run or real) and trigger (schedule or admin)",
    ["mode", "trigger"] as const,
  );
  readonly prefetchBytes = counter(
    this.r,
    "hubmirror_prefetch_bytes_total",
    "Blob bytes fetched by prefetch",
  );
  readonly verifiedObjects = counter(
    this.r,
    "hubmirror_verify_objects_total",
    "Stored objects re-hashed by verify, by result (ok, corrupt, missing, repaired)",
    ["result"] as const,
  );
  readonly tlsReloads = counter(
    this.r,
    "hubmirror_tls_reloads_total",
    "TLS certificate reloads (SIGHUP), by outcome: ok, failed (the current certificate is kept)",
    ["outcome"] as const,
  );
  readonly tlsCertificateExpiry = gauge(
    this.r,
    "hubmirror_tls_certificate_expiry_timestamp_seconds",
    "When the TLS certificate being served expires (Unix time)",
  );
  readonly cacheBytes = gauge(this.r, "hubmirror_cache_bytes", "Bytes stored, by kind", ["kind"] as const);
  readonly cacheObjects = gauge(this.r, "hubmirror_cache_objects", "Objects stored, by kind", [
    "kind",
  ] as const);
  readonly cacheMaxBytes = gauge(this.r, "hubmirror_cache_max_bytes", "The size cap (0: none)");
  /**
   * Requests by client kind, and pulls by registry and client kind: counted per request by the usage statistics in
   * plain maps (a labelled inc costs more than the rest of the accounting), published at scrape time.
   */
  readonly clientCounts = new Map<string, number>();
  readonly pullCounts = new Map<string, Map<string, number>>();
  readonly clientRequests = new Counter({
    name: "hubmirror_client_requests_total",
    help: "Manifest and blob requests by client kind (from the User-Agent): docker, containerd, podman, kubelet, other",
    labelNames: ["client"] as const,
    registers: this.r,
    collect: () => {
      this.clientRequests.reset();
      for (const [client, n] of this.clientCounts) this.clientRequests.inc({ client }, n);
    },
  });
  readonly pulls = new Counter({
    name: "hubmirror_pulls_total",
    help: "Image pulls (GETs of an image manifest, not an index), by upstream registry and client kind",
    labelNames: ["registry", "client"] as const,
    registers: this.r,
    collect: () => {
      this.pulls.reset();
      for (const [registry, byClient] of this.pullCounts)
        for (const [client, n] of byClient) this.pulls.inc({ registry, client }, n);
    },
  });
  readonly downloadSpeed = new Histogram({
    name: "hubmirror_blob_download_speed_bytes_per_second",
    help: "Speed of each blob download of at least 1 MiB, as its client got it (request start to last byte)",
    buckets: [1, 4, 16, 64, 256, 1024].map((mib) => mib * 1024 * 1024),
    registers: this.r,
  });
  readonly storageSeconds = new Histogram({
    name: "hubmirror_storage_operation_seconds",
    help: "Time to start or complete a storage driver operation",
    labelNames: ["driver", "op"] as const,
    buckets: [0.0005, 0.002, 0.01, 0.05, 0.25, 1, 5],
    registers: this.r,
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "hubmirror_" });
  }

  /** The value of one counter's series, for tests and the console. */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = await this.registry.getSingleMetric(name)?.get();
    let sum = 0;
    for (const v of metric?.values ?? []) {
      if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
    }
    return sum;
  }
}
