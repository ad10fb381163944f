// A /api/stats answer with known figures, per range, for the console's browser tests (served by a Playwright
// route, never by the product). Each range has different totals so a test can tell which one the page shows.
import type { Range, Stats } from "../../web/src/api.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
export const NOW = Date.UTC(2025, 11, 1, 12, 0, 0);
const BUCKETS: Record<Range, { n: number; ms: number }> = {
  "1h": { n: 60, ms: 60_000 },
  "24h": { n: 24, ms: 3_600_000 },
  "30d": { n: 30, ms: 86_400_000 },
};

const TOTALS: Record<Range, Stats["totals"]> = {
  "1h": {
    pulls: 7,
    manifestRequests: 21,
    blobRequests: 40,
    servedBytes: 300 * MiB,
    upstreamBytes: 0,
    savedBytes: 300 * MiB,
    hits: 61,
    misses: 0,
    hitRatio: 1,
    avgSpeed: 12 * MiB,
    peakSpeed: 40 * MiB,
  },
  "24h": {
    pulls: 1234,
    manifestRequests: 4321,
    blobRequests: 5555,
    servedBytes: 5 * GiB,
    upstreamBytes: 1 * GiB,
    savedBytes: 4 * GiB,
    hits: 9000,
    misses: 876,
    hitRatio: 0.9113,
    avgSpeed: 1.5 * MiB,
    peakSpeed: 8 * MiB,
  },
  "30d": {
    pulls: 98765,
    manifestRequests: 300000,
    blobRequests: 450000,
    servedBytes: 1536 * GiB,
    upstreamBytes: 512 * GiB,
    savedBytes: 1024 * GiB,
    hits: 700000,
    misses: 50000,
    hitRatio: 0.9333,
    avgSpeed: 2 * MiB,
    peakSpeed: 10 * MiB,
  },
};

/** The figures for `range`, or, with `empty`, a mirror that has served nothing yet. */
export function statsFixture(range: Range, empty = false): Stats {
  const { n, ms } = BUCKETS[range];
  const to = NOW;
  const from = to - n * ms;
  const series = Array.from({ length: n }, (_, i) => {
    const busy = !empty && i % 3 !== 1;
    return {
      t: from + i * ms,
      pulls: busy ? 2 + (i % 5) : 0,
      manifestRequests: busy ? 6 : 0,
      blobRequests: busy ? 9 : 0,
      servedBytes: busy ? (20 + (i % 7) * 10) * MiB : 0,
      upstreamBytes: busy ? (i % 4) * 5 * MiB : 0,
      hits: busy ? 12 : 0,
      misses: busy ? i % 4 : 0,
      hitRatio: busy ? 12 / (12 + (i % 4)) : null,
      avgSpeed: busy ? MiB : 0,
      peakSpeed: busy ? 4 * MiB : 0,
    };
  });
  const stats: Stats = {
    range,
    from,
    to,
    bucketMs: ms,
    totals: TOTALS[range],
    cache: { bytes: 100 * GiB, objects: 4242, maxSize: 200 * GiB },
    users: { registered: 0, active: 0 },
    series,
    topImages: {
      byPulls: [
        { image: "docker.io/library/alpine", pulls: 700, bytes: 3 * MiB },
        { image: "docker.io/library/nginx", pulls: 300, bytes: 900 * MiB },
      ],
      byBytes: [
        { image: "docker.io/library/nginx", pulls: 300, bytes: 900 * MiB },
        { image: "docker.io/library/alpine", pulls: 700, bytes: 3 * MiB },
      ],
    },
    clients: { docker: 10, containerd: 5, podman: 2, kubelet: 0, other: 1 },
    upstreams: [
      {
        registry: "docker.io",
        url: "https://registry-1.docker.io",
        state: "up",
        rateLimitLimit: 100,
        rateLimitRemaining: 80,
        updatedAt: NOW - 42_000,
      },
      {
        registry: "ghcr.io",
        url: "https://ghcr.io",
        state: "down",
        rateLimitLimit: null,
        rateLimitRemaining: null,
        updatedAt: null,
      },
    ],
    inFlight: [
      {
        digest: `sha256:${"ab".repeat(32)}`,
        repo: "library/nginx",
        registry: "docker.io",
        received: 1000,
        size: 5000,
      },
    ],
    recent: [
      {
        t: NOW - 1000,
        image: "docker.io/library/alpine",
        reference: "3.20",
        kind: "manifest",
        result: "hit",
        bytes: 1234,
        client: "docker",
        status: 200,
      },
      {
        t: NOW - 5000,
        image: "docker.io/library/nginx",
        reference: `sha256:${"cd".repeat(32)}`,
        kind: "blob",
        result: "miss",
        bytes: 5 * MiB,
        client: "containerd",
        status: 200,
      },
    ],
  };
  if (!empty) return stats;
  const totals = Object.fromEntries(
    Object.keys(stats.totals).map((k) => [k, 0]),
  ) as unknown as Stats["totals"];
  return {
    ...stats,
    totals: { ...totals, hitRatio: null },
    cache: { bytes: 0, objects: 0, maxSize: null },
    topImages: { byPulls: [], byBytes: [] },
    clients: Object.fromEntries(Object.keys(stats.clients).map((k) => [k, 0])),
    upstreams: [],
    inFlight: [],
    recent: [],
  };
}
