import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * Counters are incremented where things happen (proxy and upstream layers); `/metrics` and the console only read
 * them. One registry per app instance so tests can run several mirrors in one process.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];

  readonly httpRequests = new Counter({
    name: "hubmirror_http_requests_total",
    help: "Requests answered, by route and status",
    labelNames: ["method", "route", "status"] as const,
    registers: this.r,
  });
  readonly cacheRequests = new Counter({
    name: "hubmirror_cache_requests_total",
    help: "Blob and manifest lookups by result: hit, miss (fetched upstream), joined (an in-flight fetch), stale",
    labelNames: ["kind", "result"] as const,
    registers: this.r,
  });
  readonly servedBytes = new Counter({
    name: "hubmirror_served_bytes_total",
    help: "Body bytes sent to clients",
    labelNames: ["kind"] as const,
    registers: this.r,
  });
  readonly upstreamRequests = new Counter({
    name: "hubmirror_upstream_requests_total",
    help: "Requests sent upstream, by kind and status (0: no answer)",
    labelNames: ["registry", "kind", "method", "status"] as const,
    registers: this.r,
  });
  readonly upstreamBytes = new Counter({
    name: "hubmirror_upstream_bytes_total",
    help: "Blob bytes received from upstream",
    labelNames: ["registry"] as const,
    registers: this.r,
  });
  readonly blobFills = new Counter({
    name: "hubmirror_blob_fills_total",
    help: "Upstream blob downloads by outcome: committed, mismatch (digest or length wrong), failed",
    labelNames: ["registry", "outcome"] as const,
    registers: this.r,
  });
  readonly blobResumes = new Counter({
    name: "hubmirror_blob_resumes_total",
    help: "Interrupted blob downloads resumed with a Range request",
    labelNames: ["registry"] as const,
    registers: this.r,
  });
  readonly fillsInFlight = new Gauge({
    name: "hubmirror_blob_fills_in_flight",
    help: "Upstream blob downloads in progress",
    registers: this.r,
  });
  readonly rateLimitRemaining = new Gauge({
    name: "hubmirror_upstream_ratelimit_remaining",
    help: "Last ratelimit-remaining reported by the upstream",
    labelNames: ["registry"] as const,
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
